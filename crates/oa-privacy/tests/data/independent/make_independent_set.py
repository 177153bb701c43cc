#!/usr/bin/env python3
"""An independent labelled set for the personal-data detector, split into a tune and a report half.

It shares nothing with ``../make_pii_set.py``: other text shapes (e-mail signatures, forms, chat
messages, code snippets, support tickets), twelve languages in five scripts (Latin, Cyrillic,
Arabic, Han/Kana, Devanagari), names drawn from real name lists, addresses in each country's own
format, phones as each country writes them (in CJK text without spaces around them), secrets in
URL paths and queries and in code, and hard negatives: version numbers, loopback, unspecified and
documentation IPs, SSH remotes, ISBN/EAN numbers that pass the Luhn check, serial and order
numbers, famous fictional or public names without personal context, and placeholders.

Names come from ``names.json``: the most common first and last names per country of the
``names-dataset`` package (PyPI, drawn from public profiles), cached here so that the set does not
need the package to be rebuilt. CJK and Devanagari names are listed below by hand.

Each record is ``{"id", "lang", "shape", "text", "pii": [{"kind", "text"}]}``; ``pii`` lists every
piece of personal data in the text (kind and exact substring) and is empty for a clean text. A
record belongs to the report half when the first byte of the SHA-256 of its id is odd, to the tune
half otherwise. Patterns are changed looking at the tune half only; the report half is measured,
never read.

``handwritten.jsonl`` beside it is not made by this script: 85 texts written one by one (chat
prompts quoting e-mails, forms, code, tickets, in the same twelve languages), after the
detector's rules were written and never used to change them. It is a second report set, small
but free of this script's templates.

    python3 crates/oa-privacy/tests/data/independent/make_independent_set.py
"""

import base64
import hashlib
import json
import os
import random
import string

HERE = os.path.dirname(os.path.abspath(__file__))
R = random.Random(77031)
NAMES = json.load(open(os.path.join(HERE, "names.json"), encoding="utf-8"))

NAMES["zh"] = {
    "last": ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"],
    "first": ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "晓东", "志强", "海燕", "文静"],
}
NAMES["ja"] = {
    "last": ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水"],
    "first": ["翔太", "大輔", "拓也", "健太", "直樹", "陽子", "恵子", "美咲", "由美", "愛", "真由美", "裕子", "誠", "亮", "浩", "さくら", "結衣", "陽菜", "蓮", "悠真"],
}
NAMES["hi"] = {
    "first": ["राहुल", "अमित", "सुनील", "प्रिया", "पूजा", "अंजलि", "राजेश", "विकास", "नेहा", "सीमा", "अनिल", "सुरेश", "रवि", "कविता", "दीपक", "मनीषा", "संजय", "आरती", "विजय", "रेखा"],
    "last": ["शर्मा", "वर्मा", "गुप्ता", "सिंह", "कुमार", "यादव", "पटेल", "जैन", "मिश्रा", "तिवारी", "अग्रवाल", "चौधरी", "पांडेय", "श्रीवास्तव", "मेहता"],
}

# Latin-script name lists for the languages whose names.json key differs.
NAME_KEY = {"en": ["en", "ng", "in", "pl", "tr"], "de": ["de", "tr", "pl"], "nl": ["nl"], "es": ["es"],
            "fr": ["fr"], "it": ["it"], "pt": ["pt"], "ru": ["ru"], "ar": ["ar"], "zh": ["zh"],
            "ja": ["ja"], "hi": ["hi"]}


def pick(seq):
    return R.choice(seq)


def first(lang):
    return pick(NAMES[pick(NAME_KEY[lang])]["first"])


def full(lang):
    key = pick(NAME_KEY[lang])
    f, l = pick(NAMES[key]["first"]), pick(NAMES[key]["last"])
    if lang in ("zh", "ja"):
        return l + f
    return f + " " + l


def digits(n):
    return "".join(pick(string.digits) for _ in range(n))


def ascii_fold(s):
    table = str.maketrans("äöüßéèêëáàâãçíìîïóòôõúùûñłśźżćńęąşğıİ", "aouseeeeaaaaciiiioooouuunlszzcneasgii")
    return "".join(c for c in s.lower().translate(table) if c.isascii() and (c.isalnum() or c in ".-"))


def email(lang, name=None):
    domains = ["gmail.com", "outlook.com", "web.de", "gmx.net", "yahoo.fr", "hotmail.es", "libero.it",
               "sapo.pt", "yandex.ru", "mail.ru", "qq.com", "163.com", "yahoo.co.jp", "rediffmail.com",
               "ziggo.nl", "kpnmail.nl", "orange.fr", "acme-corp.com", "firma.de", "empresa.es"]
    if name and all(c.isascii() or c in "äöüßéèáíóúñçãõêôàèìòù" for c in name.replace(" ", "")):
        parts = [ascii_fold(p) for p in name.split()]
        local = pick([".".join(parts), parts[0] + digits(2), parts[0][0] + parts[-1], "_".join(parts)])
    else:
        local = pick(["lena", "wei.zhang", "tanaka.h", "ivan.petrov", "m.ali", "priya.s", "kenji88",
                      "olga_k", "ahmed.hassan", "li.na"]) + digits(pick([0, 2, 3]))
    return local + "@" + pick(domains)


# Phones as written in each country.
def phone(lang):
    f = {
        "en": [lambda: f"+44 7{digits(3)} {digits(6)}", lambda: f"({digits(3)}) {digits(3)}-{digits(4)}",
               lambda: f"+1 {digits(3)}-{digits(3)}-{digits(4)}", lambda: f"07{digits(3)} {digits(3)} {digits(3)}",
               lambda: f"+234 80{digits(1)} {digits(3)} {digits(4)}", lambda: f"+61 4{digits(2)} {digits(3)} {digits(3)}"],
        "de": [lambda: f"+49 30 {digits(8)}", lambda: f"0171 {digits(7)}", lambda: f"089/{digits(3)} {digits(2)} {digits(2)}",
               lambda: f"+49 (0)221 {digits(6)}", lambda: f"+43 664 {digits(7)}", lambda: f"+41 79 {digits(3)} {digits(2)} {digits(2)}"],
        "nl": [lambda: f"06-{digits(8)}", lambda: f"+31 6 {digits(8)}", lambda: f"020 {digits(3)} {digits(4)}",
               lambda: f"+32 470 {digits(2)} {digits(2)} {digits(2)}", lambda: f"(010) {digits(3)} {digits(2)} {digits(2)}"],
        "es": [lambda: f"+34 6{digits(2)} {digits(3)} {digits(3)}", lambda: f"91 {digits(3)} {digits(2)} {digits(2)}",
               lambda: f"6{digits(2)} {digits(2)} {digits(2)} {digits(2)}", lambda: f"+52 55 {digits(4)} {digits(4)}"],
        "fr": [lambda: f"06 {digits(2)} {digits(2)} {digits(2)} {digits(2)}", lambda: f"+33 1 {digits(2)} {digits(2)} {digits(2)} {digits(2)}",
               lambda: f"+33 (0)6 {digits(2)} {digits(2)} {digits(2)} {digits(2)}", lambda: f"07.{digits(2)}.{digits(2)}.{digits(2)}.{digits(2)}"],
        "it": [lambda: f"+39 3{digits(2)} {digits(3)} {digits(4)}", lambda: f"06 {digits(4)} {digits(4)}", lambda: f"3{digits(2)} {digits(7)}"],
        "pt": [lambda: f"+351 91{digits(1)} {digits(3)} {digits(3)}", lambda: f"(11) 9{digits(4)}-{digits(4)}",
               lambda: f"+55 21 9{digits(4)}-{digits(4)}", lambda: f"21 {digits(3)} {digits(4)}"],
        "ru": [lambda: f"+7 (9{digits(2)}) {digits(3)}-{digits(2)}-{digits(2)}", lambda: f"8 (495) {digits(3)}-{digits(2)}-{digits(2)}",
               lambda: f"+7 9{digits(2)} {digits(3)} {digits(2)} {digits(2)}", lambda: f"8-9{digits(2)}-{digits(3)}-{digits(2)}-{digits(2)}"],
        "ar": [lambda: f"+966 5{digits(1)} {digits(3)} {digits(4)}", lambda: f"+20 10 {digits(4)} {digits(4)}",
               lambda: f"05{digits(8)}", lambda: f"+971 50 {digits(3)} {digits(4)}", lambda: f"01{digits(9)}"],
        "zh": [lambda: f"1{pick('3589')}{digits(9)}", lambda: f"+86 1{pick('3589')}{digits(1)} {digits(4)} {digits(4)}",
               lambda: f"010-{digits(8)}", lambda: f"021-{digits(8)}", lambda: f"1{pick('3589')}{digits(1)}-{digits(4)}-{digits(4)}"],
        "ja": [lambda: f"090-{digits(4)}-{digits(4)}", lambda: f"080{digits(8)}", lambda: f"03-{digits(4)}-{digits(4)}",
               lambda: f"+81 90-{digits(4)}-{digits(4)}", lambda: f"06-{digits(4)}-{digits(4)}"],
        "hi": [lambda: f"+91 9{digits(4)} {digits(5)}", lambda: f"9{digits(9)}", lambda: f"+91-{pick('6789')}{digits(9)}",
               lambda: f"011-{digits(8)}", lambda: f"0{pick('6789')}{digits(9)}"],
    }[lang]
    return pick(f)()


# Addresses in each country's own format.
def address(lang):
    if lang == "en":
        return pick([
            lambda: f"{R.randint(1, 9999)} {pick(['Maple', 'Oak', 'Cedar', 'Elm', 'Washington', 'Lake', 'Hillcrest', 'Sunset'])} {pick(['Street', 'Avenue', 'Drive', 'Road', 'Lane', 'Blvd', 'Court'])}, {pick(['Springfield, IL 62704', 'Austin, TX 78701', 'Portland, OR 97205', 'Denver, CO 80202', 'Columbus, OH 43215'])}",
            lambda: f"{R.randint(1, 200)} {pick(['Station Road', 'Church Lane', 'Victoria Street', 'Park Avenue', 'Mill Lane', 'Queens Road'])}, {pick(['Leeds LS1 4AP', 'Bristol BS1 5TR', 'Manchester M1 2WD', 'Oxford OX1 3BG', 'Cardiff CF10 1EP'])}",
            lambda: f"Flat {R.randint(1, 40)}, {R.randint(1, 120)} {pick(['King Street', 'High Street', 'Albert Road'])}, {pick(['Glasgow G1 3SQ', 'Brighton BN1 1AA', 'Leicester LE1 5WW'])}",
            lambda: f"{R.randint(1, 80)} {pick(['Adeola Odeku Street', 'Allen Avenue', 'Awolowo Road'])}, {pick(['Victoria Island, Lagos', 'Ikeja, Lagos', 'Ikoyi, Lagos'])}",
            lambda: f"Apt {R.randint(1, 30)}{pick('ABC')}, {R.randint(10, 999)} {pick(['Bay Street', 'Queen Street West', 'Collins Street'])}, {pick(['Toronto, ON M5J 2R8', 'Melbourne VIC 3000', 'Toronto ON M5H 2N2'])}",
        ])()
    if lang == "de":
        street = pick(["Hauptstraße", "Bahnhofstraße", "Schillerstr.", "Lindenweg", "Gartenstraße", "Am Markt", "Kirchplatz",
                       "Goethestraße", "Berliner Allee", "Rosenweg", "Mühlgasse", "Schlossallee", "Ringstraße", "Feldweg"])
        no = f"{R.randint(1, 180)}{pick(['', '', '', 'a', 'b'])}"
        city = pick(["10115 Berlin", "80331 München", "50667 Köln", "20095 Hamburg", "60311 Frankfurt am Main", "70173 Stuttgart",
                     "04109 Leipzig", "1010 Wien", "8001 Zürich", "3011 Bern", "01067 Dresden", "28195 Bremen"])
        return pick([f"{street} {no}, {city}", f"{street} {no}\n{city}", f"{street} {no}, D-{city}" if city[:5].isdigit() else f"{street} {no}, {city}"])
    if lang == "nl":
        street = pick(["Keizersgracht", "Prinsengracht", "Damrak", "Kalverstraat", "Coolsingel", "Oudegracht", "Dorpsstraat",
                       "Kerkstraat", "Molenweg", "Stationsplein", "Julianalaan", "Lange Voorhout", "Meir", "Veldstraat"])
        no = f"{R.randint(1, 400)}{pick(['', '', '', 'A', '-2', ' bis'])}"
        city = pick([f"1015 {pick(['CJ', 'AB', 'DS'])} Amsterdam", f"3011 {pick(['AD', 'BN'])} Rotterdam", f"3511 {pick(['LK', 'BE'])} Utrecht",
                     f"2514 {pick(['JA', 'EK'])} Den Haag", f"5611 {pick(['AB', 'EM'])} Eindhoven", "2000 Antwerpen", "9000 Gent", "1000 Brussel"])
        return pick([f"{street} {no}, {city}", f"{street} {no}\n{city}", f"{street} {no} {city}"])
    if lang == "es":
        street = pick(["Calle Mayor", "Calle de Alcalá", "Avenida de la Constitución", "Paseo de Gracia", "C/ Serrano", "Calle Real",
                       "Plaza Mayor", "Avda. Diagonal", "Calle San Fernando", "Carrer de Balmes", "Calle Gran Vía", "Calle Reforma"])
        no = pick([str(R.randint(1, 200)), f"{R.randint(1, 200)}, {R.randint(1, 8)}º {pick('ABCD')}", f"n.º {R.randint(1, 90)}"])
        city = pick(["28013 Madrid", "08007 Barcelona", "41001 Sevilla", "46002 Valencia", "29015 Málaga", "48001 Bilbao", "50001 Zaragoza"])
        if R.random() < 0.15:
            return f"Av. {pick(['Insurgentes Sur', 'Reforma', 'Juárez'])} {R.randint(100, 2000)}, Col. {pick(['Roma Norte', 'Del Valle', 'Centro'])}, 0{R.randint(3000, 6999)} Ciudad de México"
        return f"{street} {no}, {city}"
    if lang == "fr":
        no = pick([str(R.randint(1, 150)), f"{R.randint(1, 60)} bis", f"{R.randint(1, 60)} ter"])
        street = pick(["rue de la Paix", "avenue des Champs-Élysées", "boulevard Haussmann", "rue du Faubourg Saint-Antoine",
                       "place Bellecour", "rue Victor Hugo", "chemin des Vignes", "allée des Tilleuls", "rue de Rivoli",
                       "impasse des Lilas", "quai de la Tournelle", "avenue Jean Jaurès", "rue Nationale"])
        city = pick(["75002 Paris", "69002 Lyon", "13001 Marseille", "31000 Toulouse", "33000 Bordeaux", "59000 Lille",
                     "44000 Nantes", "1000 Bruxelles", "67000 Strasbourg"])
        return pick([f"{no} {street}, {city}", f"{no}, {street}\n{city}", f"{no} {street} {city}"])
    if lang == "it":
        street = pick(["Via Roma", "Via Garibaldi", "Corso Vittorio Emanuele II", "Piazza Navona", "Via Dante Alighieri",
                       "Viale Europa", "Via della Spiga", "Via Mazzini", "Via Torino", "Corso Buenos Aires"])
        city = pick(["00184 Roma", "20121 Milano", "10121 Torino", "80132 Napoli", "50123 Firenze", "40121 Bologna", "30124 Venezia"])
        return pick([f"{street} {R.randint(1, 200)}, {city}", f"{street}, {R.randint(1, 200)} - {city}", f"{street} {R.randint(1, 90)}/{pick('ABC')}, {city} ({pick(['RM', 'MI', 'TO'])})"])
    if lang == "pt":
        return pick([
            lambda: f"Rua {pick(['Augusta', 'Garrett', 'do Ouro', 'de Santa Catarina', 'das Flores'])}, {R.randint(1, 300)}, {pick(['1100-053 Lisboa', '4000-123 Porto', '3000-150 Coimbra'])}",
            lambda: f"Avenida {pick(['da Liberdade', 'dos Aliados', 'de Roma'])} {R.randint(1, 300)}, {R.randint(1, 9)}º Esq., {pick(['1250-096 Lisboa', '4000-064 Porto'])}",
            lambda: f"Rua {pick(['Oscar Freire', 'Haddock Lobo', 'das Laranjeiras', 'XV de Novembro'])}, {R.randint(10, 2000)} - {pick(['Jardins', 'Centro', 'Laranjeiras'])}, {pick(['São Paulo - SP', 'Rio de Janeiro - RJ', 'Curitiba - PR'])}, {R.randint(10000, 99999)}-{digits(3)}",
            lambda: f"Av. {pick(['Paulista', 'Atlântica', 'Brasil'])}, {R.randint(100, 3000)}, apto {R.randint(11, 204)}, {pick(['São Paulo - SP', 'Rio de Janeiro - RJ'])}, CEP {R.randint(10000, 99999)}-{digits(3)}",
        ])()
    if lang == "ru":
        return pick([
            lambda: f"ул. {pick(['Тверская', 'Ленина', 'Пушкина', 'Гагарина', 'Садовая', 'Мира'])}, д. {R.randint(1, 120)}, кв. {R.randint(1, 300)}, {pick(['Москва', 'Санкт-Петербург', 'Казань', 'Новосибирск'])}, {R.randint(101000, 199999)}",
            lambda: f"{R.randint(101000, 199999)}, г. {pick(['Москва', 'Екатеринбург', 'Самара'])}, {pick(['ул. Арбат', 'пр-т Мира', 'Невский проспект', 'ул. Льва Толстого'])}, д. {R.randint(1, 90)}",
            lambda: f"{pick(['Невский проспект', 'Ленинский проспект', 'улица Пушкина', 'Кутузовский проспект'])}, {R.randint(1, 150)}, кв. {R.randint(1, 99)}",
        ])()
    if lang == "ar":
        return pick([
            lambda: f"{R.randint(1, 99)} شارع {pick(['التحرير', 'الملك فهد', 'الجمهورية', 'النيل', 'الهرم'])}، {pick(['القاهرة', 'الرياض', 'الإسكندرية', 'جدة'])}",
            lambda: f"شارع {pick(['الملك عبدالعزيز', 'العليا', 'طلعت حرب', 'الشيخ زايد'])}، مبنى {R.randint(1, 99)}، {pick(['الرياض 12211', 'دبي', 'القاهرة 11511', 'جدة 21589'])}",
            lambda: f"حي {pick(['النخيل', 'الملز', 'الزمالك', 'المعادي'])}، شارع {R.randint(1, 300)}، {pick(['الرياض', 'القاهرة'])}",
        ])()
    if lang == "zh":
        return pick([
            lambda: f"{pick(['北京市朝阳区建国路', '上海市浦东新区世纪大道', '广州市天河区天河路', '深圳市南山区科技园路', '杭州市西湖区文三路'])}{R.randint(1, 300)}号",
            lambda: f"{pick(['北京市海淀区中关村大街', '上海市徐汇区漕溪北路', '成都市武侯区人民南路'])}{R.randint(1, 200)}号{R.randint(1, 30)}栋{R.randint(101, 2505)}室",
        ])()
    if lang == "ja":
        return pick([
            lambda: f"〒{digits(3)}-{digits(4)} {pick(['東京都渋谷区渋谷', '東京都新宿区西新宿', '大阪府大阪市北区梅田', '京都府京都市中京区', '神奈川県横浜市西区みなとみらい'])}{R.randint(1, 5)}-{R.randint(1, 30)}-{R.randint(1, 20)}",
            lambda: f"{pick(['東京都港区六本木', '東京都千代田区丸の内', '福岡県福岡市博多区博多駅前', '愛知県名古屋市中区栄'])}{R.randint(1, 7)}丁目{R.randint(1, 30)}番{R.randint(1, 20)}号",
        ])()
    if lang == "hi":
        return pick([
            lambda: f"मकान नं. {R.randint(1, 500)}, {pick(['गांधी नगर', 'शास्त्री नगर', 'राजेंद्र नगर', 'सेक्टर 15'])}, {pick(['नई दिल्ली 110001', 'जयपुर 302001', 'लखनऊ 226001', 'पटना 800001'])}",
            lambda: f"फ्लैट {R.randint(1, 900)}, {pick(['एमजी रोड', 'स्टेशन रोड', 'मॉल रोड'])}, {pick(['बेंगलुरु 560001', 'मुंबई 400001', 'पुणे 411001'])}",
            lambda: f"{R.randint(1, 300)}, {pick(['MG Road', 'Linking Road', 'Park Street', 'Anna Salai'])}, {pick(['Bengaluru 560001', 'Mumbai 400050', 'Kolkata 700016', 'Chennai 600002'])}",
        ])()
    raise KeyError(lang)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def rand(n, alphabet=string.ascii_letters + string.digits):
    return "".join(pick(alphabet) for _ in range(n))


def jwt():
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": digits(8), "email_verified": True, "exp": 1767225600 + R.randint(0, 10**6)}).encode())
    return f"{header}.{payload}.{b64url(bytes(R.randrange(256) for _ in range(32)))}"


def secret_url():
    """A URL that carries a credential in its path or query."""
    return pick([
        lambda: f"https://hooks.slack.com/services/T{rand(8, string.ascii_uppercase + string.digits)}/B{rand(10, string.ascii_uppercase + string.digits)}/{rand(24)}",
        lambda: f"https://discord.com/api/webhooks/{digits(18)}/{rand(68, string.ascii_letters + string.digits + '-_')}",
        lambda: f"https://{pick(['accounts.shopmail.com', 'id.example-bank.de', 'app.mytodo.io', 'login.cloudnote.fr'])}/{pick(['reset-password', 'password/reset', 'auth/reset', 'verify-email'])}/{rand(40, string.ascii_letters + string.digits + '-_')}",
        lambda: f"https://{pick(['app.mytodo.io', 'portal.fitclub.nl', 'www.ticketshop.es'])}/{pick(['reset', 'confirm', 'invite'])}?{pick(['token', 't', 'code', 'key'])}={rand(32, string.ascii_letters + string.digits)}",
        lambda: f"https://{pick(['my-bucket', 'invoices-prod', 'media-eu'])}.s3.{pick(['eu-west-1', 'us-east-1'])}.amazonaws.com/{pick(['report.pdf', 'scan_0042.jpg', 'export.csv'])}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA{rand(16, string.ascii_uppercase + string.digits)}%2F20250101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature={rand(64, '0123456789abcdef')}",
        lambda: f"https://storage.googleapis.com/{pick(['team-share', 'backups-7'])}/{pick(['db.sql.gz', 'photo.png'])}?GoogleAccessId=svc%40proj.iam.gserviceaccount.com&Expires=1767225600&Signature={rand(86, string.ascii_letters + string.digits + '%')}",
        lambda: f"https://{pick(['docs', 'meet', 'files'])}.{pick(['companyx.com', 'startup.io'])}/share/{rand(22, string.ascii_letters + string.digits)}?sig={rand(43, string.ascii_letters + string.digits)}",
        lambda: f"https://api.{pick(['weather-data.com', 'geo-lookup.net', 'maps-api.io'])}/v2/{pick(['forecast', 'lookup'])}?q=Berlin&appid={rand(32, '0123456789abcdef')}",
        lambda: f"https://{pick(['ci.example-shop.com', 'jenkins.internal.acme.io'])}/callback#access_token={jwt()}&token_type=bearer",
        lambda: f"https://outlook.office.com/webhook/{rand(8, '0123456789abcdef')}-{rand(4, '0123456789abcdef')}-{rand(4, '0123456789abcdef')}-{rand(4, '0123456789abcdef')}-{rand(12, '0123456789abcdef')}@{rand(8, '0123456789abcdef')}/IncomingWebhook/{rand(32, '0123456789abcdef')}/{rand(8, '0123456789abcdef')}",
        lambda: f"https://api.telegram.org/bot{digits(10)}:{rand(35, string.ascii_letters + string.digits + '_-')}/sendMessage",
        lambda: f"https://zoom.us/j/{digits(11)}?pwd={rand(32)}",
        lambda: f"https://{pick(['dashboard.example.org', 'app.crm.io'])}/magic-link?email=user%40mail.com&otp={rand(24, string.ascii_letters + string.digits)}",
    ])()


def bare_secret():
    """A token or key outside a URL."""
    return pick([
        lambda: "ghp_" + rand(36),
        lambda: "github_pat_" + rand(22) + "_" + rand(59),
        lambda: "sk_live_" + rand(24),
        lambda: "rk_live_" + rand(24),
        lambda: "AKIA" + rand(16, string.ascii_uppercase + string.digits),
        lambda: "xoxb-" + digits(11) + "-" + digits(12) + "-" + rand(24),
        lambda: "AIza" + rand(35, string.ascii_letters + string.digits + "-_"),
        lambda: jwt(),
        lambda: "glpat-" + rand(20, string.ascii_letters + string.digits + "-_"),
        lambda: "sk-proj-" + rand(48, string.ascii_letters + string.digits + "-_"),
        lambda: "npm_" + rand(36),
    ])()


def luhn_ok(num):
    s = 0
    for i, ch in enumerate(reversed(num)):
        v = int(ch)
        if i % 2 == 1:
            v *= 2
            if v > 9:
                v -= 9
        s += v
    return s % 10 == 0


def card():
    while True:
        prefix = pick(["4", "51", "55", "37", "6011"])
        n = 15 if prefix == "37" else 16
        num = prefix + digits(n - len(prefix) - 1)
        for c in string.digits:
            if luhn_ok(num + c):
                num += c
                break
        if n == 16:
            return pick([" ".join(num[i:i + 4] for i in range(0, 16, 4)), num, "-".join(num[i:i + 4] for i in range(0, 16, 4))])
        return f"{num[:4]} {num[4:10]} {num[10:]}"


def iban(country):
    lengths = {"DE": 18, "NL": 14, "ES": 20, "FR": 23, "IT": 23, "PT": 21, "BE": 12, "GB": 18}
    if country == "NL":
        bban = pick(["ABNA", "INGB", "RABO"]) + digits(10)
    elif country == "GB":
        bban = pick(["NWBK", "BARC", "HBUK"]) + digits(14)
    elif country == "IT":
        bban = pick("ABCX") + digits(22)
    else:
        bban = digits(lengths[country])
    conv = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(conv) % 97
    s = f"{country}{check:02d}{bban}"
    return pick([s, " ".join(s[i:i + 4] for i in range(0, len(s), 4))])


def public_ip():
    while True:
        a = R.randint(1, 223)
        if a in (10, 127, 100, 169, 172, 192, 198, 203):
            continue
        return f"{a}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"


# Per-language phrasing.
L = {
    "en": dict(hi=["Hi {f},", "Hello {f},", "Dear {n},", "Hey {f}!", "Dear Mr. {l},", "Dear Ms. {l},"],
               bye=["Best regards,\n{n}", "Kind regards,\n{n}", "Thanks,\n{f}", "Cheers,\n{f}", "Sincerely,\n{n}", "Best,\n{n}", "— {n}"],
               name="Name", fullname="Full name", addr="Address", tel="Phone", mail="Email", ship="Shipping address",
               chat_pos=["can you send the parcel to {a}? thanks", "my new address is {a}", "call me on {p} after 6pm", "text me at {p} when you land",
                         "pls use {e} instead of my work mail", "I'm {n}, I ordered a blender last week and it never arrived",
                         "my colleague {n} will pick it up", "is {a} inside the delivery zone?", "whatsapp: {p}",
                         "thanks {f}, that worked!", "ok {f}, I'll check tomorrow", "write a cover letter for {n}, who lives at {a}"],
               chat_neg=["can you explain how a hash map works?", "what's the capital of Australia?", "Hi team, the build is green again.",
                         "Dear customer, your order has shipped.", "Best regards,\nThe Support Team", "Thanks again, everyone!",
                         "write me a haiku about autumn leaves", "the meeting moved to 3pm on Tuesday", "How do I center a div in CSS?",
                         "Hello there! Can you summarise this article for me?", "Kind regards,\nCustomer Service", "Summarize chapter 3 please",
                         "My order arrived damaged, what should I do?", "I live in a small town near the coast.",
                         "Call me when you can, no rush.", "The population grew by 12,500 between 2010 and 2020."],
               reset="Here is the reset link you asked for: {u}", webhook="our webhook is {u} — don't share it"),
    "de": dict(hi=["Hallo {f},", "Hi {f},", "Liebe {f},", "Lieber {f},", "Sehr geehrte Frau {l},", "Sehr geehrter Herr {l},", "Moin {f},"],
               bye=["Mit freundlichen Grüßen\n{n}", "Viele Grüße\n{n}", "Beste Grüße,\n{f}", "LG {f}", "Herzliche Grüße\n{n}", "Gruß\n{n}"],
               name="Name", fullname="Vor- und Nachname", addr="Anschrift", tel="Telefon", mail="E-Mail", ship="Lieferadresse",
               chat_pos=["schick das Paket bitte an {a}", "meine neue Adresse: {a}", "ruf mich an unter {p}", "erreichbar unter {p}",
                         "meine Mail ist {e}", "Ich bin {n} und habe eine Frage zu meiner Rechnung", "mein Nachbar {n} nimmt das Paket an",
                         "danke {f}, hat geklappt", "Schreib eine Kündigung für {n}, {a}", "Handy: {p}"],
               chat_neg=["Kannst du mir erklären, wie Photosynthese funktioniert?", "Hallo zusammen, das Meeting ist verschoben.",
                         "Sehr geehrte Damen und Herren,\nanbei die Unterlagen.", "Mit freundlichen Grüßen\nIhr Kundenservice",
                         "Wie viele Einwohner hat München?", "Schreib mir ein Gedicht über den Herbst.", "Viele Grüße aus dem Team!",
                         "Die Lieferung kommt am Dienstag.", "Wie koche ich Spätzle?", "Ich wohne in einer kleinen Stadt am See."],
               reset="Hier der Link zum Zurücksetzen des Passworts: {u}", webhook="Unser Webhook: {u}"),
    "nl": dict(hi=["Hoi {f},", "Hallo {f},", "Beste {f},", "Geachte heer {l},", "Geachte mevrouw {l},", "Dag {f},"],
               bye=["Met vriendelijke groet,\n{n}", "Groetjes,\n{f}", "Vriendelijke groeten,\n{n}", "Mvg,\n{n}", "Groet,\n{f}"],
               name="Naam", fullname="Volledige naam", addr="Adres", tel="Telefoon", mail="E-mail", ship="Bezorgadres",
               chat_pos=["stuur het pakket naar {a}", "mijn nieuwe adres is {a}", "bel me op {p}", "je kunt me bereiken op {p}",
                         "mail me op {e}", "Ik ben {n} en ik heb een vraag over mijn bestelling", "bedankt {f}!", "mijn buurvrouw {n} neemt het aan",
                         "app me even: {p}", "schrijf een brief namens {n}, {a}"],
               chat_neg=["Kun je uitleggen hoe een blockchain werkt?", "Hallo allemaal, de vergadering is verplaatst.",
                         "Met vriendelijke groet,\nKlantenservice", "Geachte heer/mevrouw,\nin de bijlage vindt u de factuur.",
                         "Wat is de hoofdstad van Canada?", "Schrijf een gedichtje voor Sinterklaas.", "Groetjes van het hele team!",
                         "Ik woon in een klein dorp bij de zee.", "De trein van 8:15 had vertraging."],
               reset="Hier is de link om je wachtwoord te herstellen: {u}", webhook="onze webhook: {u}"),
    "es": dict(hi=["Hola {f},", "Estimado {n}:", "Estimada Sra. {l}:", "Buenas {f},", "Querida {f},"],
               bye=["Saludos,\n{n}", "Un saludo,\n{f}", "Atentamente,\n{n}", "Saludos cordiales,\n{n}", "Un abrazo,\n{f}"],
               name="Nombre", fullname="Nombre completo", addr="Dirección", tel="Teléfono", mail="Correo", ship="Dirección de envío",
               chat_pos=["envía el paquete a {a}", "mi dirección nueva es {a}", "llámame al {p}", "mi móvil es {p}", "escríbeme a {e}",
                         "Soy {n} y tengo un problema con mi pedido", "gracias {f}, funcionó", "mi compañero {n} lo recogerá",
                         "redacta una carta para {n}, {a}", "WhatsApp: {p}"],
               chat_neg=["¿Puedes explicarme cómo funciona la fotosíntesis?", "Hola a todos, la reunión se ha movido al jueves.",
                         "Saludos cordiales,\nEl equipo de soporte", "Estimado cliente:\nsu pedido ha sido enviado.",
                         "¿Cuál es la capital de Perú?", "Escribe un poema sobre el mar.", "Vivo en un pueblo pequeño cerca de la costa.",
                         "El tren salió a las 8:15 con retraso."],
               reset="Aquí tienes el enlace para restablecer la contraseña: {u}", webhook="nuestro webhook es {u}"),
    "fr": dict(hi=["Bonjour {f},", "Salut {f} !", "Cher {f},", "Chère {f},", "Madame {l},", "Bonjour M. {l},"],
               bye=["Cordialement,\n{n}", "Bien à vous,\n{n}", "Bonne journée,\n{f}", "Amicalement,\n{f}", "Bien cordialement,\n{n}"],
               name="Nom", fullname="Nom complet", addr="Adresse", tel="Téléphone", mail="Courriel", ship="Adresse de livraison",
               chat_pos=["envoie le colis au {a}", "ma nouvelle adresse : {a}", "appelle-moi au {p}", "mon portable : {p}", "écris-moi à {e}",
                         "Je suis {n}, j'ai un souci avec ma commande", "merci {f}, ça marche", "ma voisine {n} récupérera le colis",
                         "rédige une lettre de résiliation pour {n}, {a}"],
               chat_neg=["Peux-tu m'expliquer la photosynthèse ?", "Bonjour à tous, la réunion est reportée à jeudi.",
                         "Cordialement,\nLe service client", "Madame, Monsieur,\nveuillez trouver ci-joint la facture.",
                         "Quelle est la capitale du Canada ?", "Écris un poème sur la mer.", "J'habite dans un petit village près de Lyon.",
                         "Le train de 8h15 avait du retard."],
               reset="Voici le lien pour réinitialiser ton mot de passe : {u}", webhook="notre webhook : {u}"),
    "it": dict(hi=["Ciao {f},", "Gentile {n},", "Caro {f},", "Cara {f},", "Buongiorno {f},", "Gentile Sig.ra {l},"],
               bye=["Cordiali saluti,\n{n}", "Un saluto,\n{f}", "Distinti saluti,\n{n}", "A presto,\n{f}", "Saluti,\n{n}"],
               name="Nome", fullname="Nome e cognome", addr="Indirizzo", tel="Telefono", mail="Email", ship="Indirizzo di spedizione",
               chat_pos=["spedisci il pacco a {a}", "il mio nuovo indirizzo è {a}", "chiamami al {p}", "il mio cellulare è {p}",
                         "scrivimi a {e}", "Sono {n} e ho un problema con l'ordine", "grazie {f}!", "scrivi una lettera per {n}, {a}"],
               chat_neg=["Puoi spiegarmi come funziona la fotosintesi?", "Ciao a tutti, la riunione è spostata a giovedì.",
                         "Cordiali saluti,\nIl servizio clienti", "Qual è la capitale dell'Australia?", "Scrivi una poesia sul mare.",
                         "Abito in un piccolo paese vicino al lago."],
               reset="Ecco il link per reimpostare la password: {u}", webhook="il nostro webhook: {u}"),
    "pt": dict(hi=["Olá {f},", "Oi {f}!", "Caro {f},", "Prezada {f},", "Bom dia {f},", "Prezado Sr. {l},"],
               bye=["Atenciosamente,\n{n}", "Abraços,\n{f}", "Cumprimentos,\n{n}", "Com os melhores cumprimentos,\n{n}", "Obrigado,\n{f}"],
               name="Nome", fullname="Nome completo", addr="Endereço", tel="Telefone", mail="E-mail", ship="Morada de entrega",
               chat_pos=["manda a encomenda para {a}", "meu endereço novo é {a}", "me liga no {p}", "meu celular: {p}", "escreve para {e}",
                         "Sou {n} e tenho um problema com o meu pedido", "valeu {f}!", "escreve uma carta para {n}, {a}"],
               chat_neg=["Você pode explicar como funciona a fotossíntese?", "Olá a todos, a reunião foi adiada.",
                         "Atenciosamente,\nEquipe de suporte", "Qual é a capital da Austrália?", "Escreve um poema sobre o mar.",
                         "Moro numa cidade pequena perto da praia."],
               reset="Aqui está o link para redefinir a senha: {u}", webhook="nosso webhook: {u}"),
    "ru": dict(hi=["Привет, {f}!", "Здравствуйте, {n}!", "Добрый день, {f}!", "Уважаемый {n},", "Дорогая {f},"],
               bye=["С уважением,\n{n}", "Спасибо,\n{f}", "С наилучшими пожеланиями,\n{n}", "Всего доброго,\n{f}"],
               name="Имя", fullname="ФИО", addr="Адрес", tel="Телефон", mail="Эл. почта", ship="Адрес доставки",
               chat_pos=["отправьте посылку по адресу {a}", "мой новый адрес: {a}", "позвоните мне по номеру {p}", "мой телефон {p}",
                         "пишите на {e}", "Меня зовут {n}, у меня вопрос по заказу", "спасибо, {f}!", "напиши письмо от имени {n}, {a}"],
               chat_neg=["Объясни, пожалуйста, как работает фотосинтез.", "Всем привет, встреча переносится на четверг.",
                         "С уважением,\nСлужба поддержки", "Какая столица Австралии?", "Напиши стихотворение про осень.",
                         "Я живу в маленьком городе у моря."],
               reset="Вот ссылка для сброса пароля: {u}", webhook="наш вебхук: {u}"),
    "ar": dict(hi=["مرحباً {f}،", "عزيزي {n}،", "السلام عليكم {f}،", "أهلاً {f}،"],
               bye=["مع تحياتي،\n{n}", "شكراً،\n{f}", "مع خالص التحية،\n{n}", "تحياتي،\n{n}"],
               name="الاسم", fullname="الاسم الكامل", addr="العنوان", tel="الهاتف", mail="البريد الإلكتروني", ship="عنوان الشحن",
               chat_pos=["أرسل الطرد إلى {a}", "عنواني الجديد: {a}", "اتصل بي على {p}", "رقم جوالي {p}", "راسلني على {e}",
                         "اسمي {n} ولدي سؤال عن طلبي", "شكراً يا {f}", "اكتب رسالة باسم {n}، {a}"],
               chat_neg=["هل يمكنك شرح كيف تعمل عملية البناء الضوئي؟", "مرحباً بالجميع، تم تأجيل الاجتماع.", "مع تحياتي،\nفريق الدعم",
                         "ما هي عاصمة أستراليا؟", "اكتب قصيدة عن البحر.", "أسكن في مدينة صغيرة قرب البحر."],
               reset="هذا رابط إعادة تعيين كلمة المرور: {u}", webhook="رابط الويب هوك الخاص بنا: {u}"),
    "zh": dict(hi=["{n}你好，", "亲爱的{n}：", "{n}先生您好，", "{n}女士您好，"],
               bye=["此致\n{n}", "谢谢！\n{n}", "祝好，\n{n}"],
               name="姓名", fullname="姓名", addr="地址", tel="电话", mail="邮箱", ship="收货地址",
               chat_pos=["请把快递寄到{a}，谢谢", "我的新地址是{a}", "我的电话是{p}，请联系", "手机{p}有事打我", "我的邮箱是{e}",
                         "我叫{n}，想问一下订单的问题", "谢谢{n}！", "帮我给{n}写一封信，地址是{a}", "联系人：{n}，电话{p}"],
               chat_neg=["你能解释一下光合作用吗？", "大家好，会议改到周四了。", "此致\n客服团队", "澳大利亚的首都是哪里？",
                         "写一首关于秋天的诗。", "我住在海边的一个小城市。", "订单已于2024年3月15日发货。"],
               reset="这是重置密码的链接：{u}", webhook="我们的 webhook 是 {u}"),
    "ja": dict(hi=["{n}様", "{n}さん、こんにちは。", "{l}さん、お疲れ様です。"],
               bye=["よろしくお願いいたします。\n{n}", "以上、よろしくお願いします。\n{n}"],
               name="氏名", fullname="お名前", addr="住所", tel="電話番号", mail="メール", ship="お届け先",
               chat_pos=["荷物は{a}に送ってください", "新しい住所は{a}です", "電話番号は{p}です", "携帯{p}までご連絡ください",
                         "メールは{e}です", "{n}と申します。注文について質問があります", "{n}さん、ありがとう！", "担当は{n}です"],
               chat_neg=["光合成の仕組みを説明してください。", "皆さん、会議は木曜日に変更になりました。", "よろしくお願いいたします。\nサポートチーム",
                         "オーストラリアの首都はどこですか？", "秋についての俳句を書いて。", "海の近くの小さな町に住んでいます。"],
               reset="パスワード再設定のリンクはこちら：{u}", webhook="webhookはこちら：{u}"),
    "hi": dict(hi=["नमस्ते {f} जी,", "प्रिय {n},", "हाय {f},"],
               bye=["धन्यवाद,\n{n}", "सादर,\n{n}", "शुभकामनाओं सहित,\n{n}"],
               name="नाम", fullname="पूरा नाम", addr="पता", tel="फ़ोन", mail="ईमेल", ship="डिलीवरी पता",
               chat_pos=["पार्सल {a} पर भेज दीजिए", "मेरा नया पता है {a}", "मुझे {p} पर कॉल करें", "मेरा मोबाइल नंबर {p} है",
                         "मुझे {e} पर मेल करें", "मेरा नाम {n} है, मेरे ऑर्डर के बारे में सवाल है", "धन्यवाद {f} जी!"],
               chat_neg=["प्रकाश संश्लेषण कैसे काम करता है, समझाइए।", "सभी को नमस्ते, मीटिंग गुरुवार को होगी।", "धन्यवाद,\nसपोर्ट टीम",
                         "ऑस्ट्रेलिया की राजधानी क्या है?", "समुद्र पर एक कविता लिखिए।", "मैं समुद्र के पास एक छोटे शहर में रहता हूँ।"],
               reset="पासवर्ड रीसेट करने का लिंक: {u}", webhook="हमारा वेबहुक: {u}"),
}
LANGS = list(L)
IBAN_COUNTRY = {"en": "GB", "de": "DE", "nl": "NL", "es": "ES", "fr": "FR", "it": "IT", "pt": "PT", "ru": "DE", "ar": "FR",
                "zh": "GB", "ja": "GB", "hi": "GB"}


class Builder:
    """Text assembled from pieces, with the personal data in it remembered."""

    def __init__(self):
        self.text = ""
        self.pii = []

    def add(self, s, kind=None):
        self.text += s
        if kind:
            self.pii.append({"kind": kind, "text": s})
        return self

    def fill(self, template, **slots):
        """Fills `{x}` slots: each a (kind, value) pair, or a plain value."""
        out = template
        i = 0
        while i < len(out):
            j = out.find("{", i)
            if j < 0:
                self.add(out[i:])
                break
            k = out.find("}", j)
            self.add(out[i:j])
            key = out[j + 1:k]
            kind, value = slots[key]
            self.add(value, kind)
            i = k + 1
        return self


def person(lang):
    key = pick(NAME_KEY[lang])
    f, l = pick(NAMES[key]["first"]), pick(NAMES[key]["last"])
    n = l + f if lang in ("zh", "ja") else f + " " + l
    return f, l, n


def slots(lang):
    f, l, n = person(lang)
    return dict(f=("name", f), l=("name", l), n=("name", n), a=("address", address(lang)), p=("phone", phone(lang)),
                e=("email", email(lang, n)), u=("secret_url", secret_url()))


def signature(lang):
    b = Builder()
    s = slots(lang)
    c = L[lang]
    body = pick({"en": ["Please find the signed contract attached.", "Let me know if Thursday works for you."],
                 "de": ["Anbei der unterschriebene Vertrag.", "Passt dir Donnerstag?"],
                 "nl": ["In de bijlage het getekende contract.", "Past donderdag voor jou?"],
                 "es": ["Adjunto el contrato firmado.", "¿Te viene bien el jueves?"],
                 "fr": ["Veuillez trouver ci-joint le contrat signé.", "Jeudi te convient ?"],
                 "it": ["In allegato il contratto firmato.", "Giovedì ti va bene?"],
                 "pt": ["Segue em anexo o contrato assinado.", "Quinta-feira funciona para você?"],
                 "ru": ["Во вложении подписанный договор.", "Четверг вам подходит?"],
                 "ar": ["مرفق العقد الموقع.", "هل يناسبك يوم الخميس؟"],
                 "zh": ["附件是签好的合同。", "周四方便吗？"], "ja": ["署名済みの契約書を添付します。", "木曜日はご都合いかがですか。"],
                 "hi": ["हस्ताक्षरित अनुबंध संलग्न है।", "क्या गुरुवार ठीक रहेगा?"]}[lang])
    greet = pick(c["hi"])
    b.fill(greet, **s).add("\n\n" + body + "\n\n")
    # The sign-off names another person than the greeting.
    s2 = slots(lang)
    b.fill(pick(c["bye"]), **s2)
    b.add("\n")
    b.add(pick(["Senior Account Manager", "Head of Sales", "Software Engineer", "Projektleiterin", "Ingénieur support",
                "Responsable RH", "営業部", "技术支持", "مدير المشاريع", "प्रबंधक"]) + "\n")
    extra = R.random()
    if extra < 0.8:
        b.fill(pick([c["tel"] + ": {p}\n", "T {p}\n", "M: {p}\n", "{p}\n"]), **s2)
    if R.random() < 0.6:
        b.fill("{e}\n", **s2)
    if R.random() < 0.4:
        b.fill("{a}\n", **s2)
    return b


def form(lang):
    b = Builder()
    s = slots(lang)
    c = L[lang]
    fields = [(pick([c["name"], c["fullname"]]), "n"), (pick([c["addr"], c["ship"]]), "a"), (c["tel"], "p"), (c["mail"], "e")]
    R.shuffle(fields)
    fields = fields[: R.randint(2, 4)]
    sep = pick([": ", ":\t", " : ", "："]) if lang in ("zh", "ja") else pick([": ", ":\t", " : "])
    if R.random() < 0.3:
        b.add(pick(["Order form", "Bestellformular", "Formulaire", "Formulario", "申込書", "订单信息", "Анкета", "استمارة"]) + "\n")
    for label, key in fields:
        b.add(label + sep).fill("{" + key + "}", **s).add("\n")
    if R.random() < 0.3:
        b.add(pick(["IBAN: ", "Bankverbindung: IBAN ", "Rekeningnummer: ", "IBAN : "])).add(iban(IBAN_COUNTRY[lang]), "iban").add("\n")
    if R.random() < 0.2:
        b.add(pick(["Card: ", "Kreditkarte: ", "Tarjeta: ", "Carte : "])).add(card(), "card").add("\n")
    return b


def chat(lang):
    b = Builder()
    s = slots(lang)
    c = L[lang]
    if R.random() < 0.35:
        b.fill(pick(c["hi"]) + " ", **s)
    b.fill(pick(c["chat_pos"]), **s)
    if R.random() < 0.15:
        b.add(" ").fill(pick(c["bye"]).replace("\n", " "), **s)
    if R.random() < 0.3 and lang in ("en", "de", "nl", "es", "fr", "it", "pt"):
        # Names written in lower case after a strong cue.
        b = Builder()
        f, l, n = person(lang)
        low = n.lower()
        b.add({"en": "my name is ", "de": "ich heiße ", "nl": "mijn naam is ", "es": "me llamo ", "fr": "je m'appelle ",
               "it": "mi chiamo ", "pt": "meu nome é "}[lang]).add(low, "name").add(pick([" and i need help", ", thx", " :)"]))
    return b


def code(lang):
    b = Builder()
    kind = R.random()
    comment = {"en": "# TODO remove before commit", "de": "# TODO vor dem Commit entfernen", "nl": "# TODO weghalen",
               "es": "# TODO quitar antes del commit", "fr": "# TODO à retirer", "it": "# TODO da rimuovere",
               "pt": "# TODO remover", "ru": "# TODO убрать перед коммитом", "ar": "# TODO احذف هذا", "zh": "# TODO 提交前删除",
               "ja": "# TODO コミット前に削除", "hi": "# TODO हटाना है"}[lang]
    if kind < 0.35:
        name = pick(["API_KEY", "STRIPE_SECRET", "GITHUB_TOKEN", "AWS_ACCESS_KEY_ID", "SLACK_BOT_TOKEN", "OPENAI_API_KEY", "auth_token"])
        b.add(comment + "\n").add(pick([f'{name} = "', f"export {name}=", f"const {name.lower()} = '", f"{name}: "]))
        b.add(bare_secret(), "secret").add(pick(['"\n', "\n", "';\n", "\n"]))
        b.add(pick(["client = Client(api_key=API_KEY)\n", "requests==2.31.0\n", "print('ok')\n", ""]))
    elif kind < 0.55:
        b.add("curl -H \"Authorization: Bearer ").add(pick([jwt(), "ghp_" + rand(36), "sk_live_" + rand(24)]), "secret")
        b.add(f"\" https://api.{pick(['example-shop.com', 'internal.acme.io'])}/v1/orders\n")
    elif kind < 0.75:
        b.add(pick(["WEBHOOK_URL=", "webhook: ", "notify_url = \"", "fetch(\""])).add(secret_url(), "secret_url").add(pick(["\n", "\"\n", "\")\n"]))
    elif kind < 0.88:
        user = pick(["admin", "app", "deploy", "root"])
        b.add(pick(["DATABASE_URL=", "spring.datasource.url=", "redis: "]))
        b.add(f"{pick(['postgres', 'mysql', 'redis', 'mongodb'])}://{user}:{rand(14)}@{pick(['db.internal', 'prod-db.acme.io', '10.0.3.7'])}:{pick(['5432', '3306', '6379'])}/app", "secret_url").add("\n")
    else:
        f, l, n = person("en" if lang in ("zh", "ja", "hi", "ar", "ru") else lang)
        e = email("en", n)
        b.add('git config user.name "').add(n, "name").add('"\ngit config user.email ').add(e, "email").add("\n")
    return b


def ticket(lang):
    b = Builder()
    s = slots(lang)
    c = L[lang]
    b.add(f"Ticket #{R.randint(10000, 999999)} — {pick(['login problem', 'refund', 'delivery', 'Rechnung', 'livraison', 'entrega', '配送', 'доставка'])}\n")
    b.add(pick(["Customer", "Kunde", "Klant", "Cliente", "Client", "Клиент", "العميل", "客户", "顧客", "ग्राहक"]) + ": ").fill("{n}", **s).add("\n")
    b.add(f"Order: {pick(['', 'ORD-', 'A'])}{digits(pick([8, 10, 12]))}\n")
    r = R.random()
    if r < 0.3:
        b.add(pick(["IP: ", "Client IP ", "Login from "])).add(public_ip(), "ip").add("\n")
    elif r < 0.55:
        b.add(pick(["Reset link sent: ", "Link: "])).fill("{u}", **s).add("\n")
    elif r < 0.8:
        b.add(c["ship"] + ": ").fill("{a}", **s).add("\n")
    else:
        b.add(c["tel"] + ": ").fill("{p}", **s).add("\n")
    if R.random() < 0.5:
        b.add(pick(["App version 4.2.1.1023", "Build 2024.11.3", "Serial No. SN-", "Agent: Mozilla/5.0"]) + "\n")
    return b


def isbn13_luhn():
    """An ISBN-13 with a valid check digit that also passes the Luhn check."""
    while True:
        body = "978" + digits(9)
        total = sum(int(ch) * (1 if i % 2 == 0 else 3) for i, ch in enumerate(body))
        num = body + str((10 - total % 10) % 10)
        if luhn_ok(num):
            return num


def ean13_luhn():
    while True:
        body = pick(["400", "500", "871", "841", "300", "690", "490"]) + digits(9)
        total = sum(int(ch) * (1 if i % 2 == 0 else 3) for i, ch in enumerate(body))
        num = body + str((10 - total % 10) % 10)
        if luhn_ok(num):
            return num


FAMOUS = ["Harry Potter", "Sherlock Holmes", "Albert Einstein", "Barack Obama", "Angela Merkel", "Frodo Baggins",
          "Hermione Granger", "Marie Curie", "Leonardo da Vinci", "Taylor Swift", "Elon Musk", "Darth Vader",
          "Don Quijote", "Emmanuel Macron", "Lionel Messi", "Cristiano Ronaldo", "William Shakespeare", "Napoleon Bonaparte",
          "Mahatma Gandhi", "Vladimir Putin", "Lewis Hamilton", "Jane Austen", "Julius Caesar", "Bruce Wayne"]


def negative(lang):
    b = Builder()
    c = L[lang]
    r = R.random()
    ver = lambda: f"{R.randint(1, 20)}.{R.randint(0, 30)}.{R.randint(0, 9)}.{R.randint(0, 300)}"
    options = [
        lambda: pick(c["chat_neg"]),
        lambda: pick(c["chat_neg"]),
        lambda: pick(c["chat_neg"]),
        lambda: f"pip install requests=={R.randint(1, 3)}.{R.randint(0, 40)}.{R.randint(0, 9)} numpy>={R.randint(1, 2)}.{R.randint(0, 26)}.0",
        lambda: f"Upgraded to v{R.randint(1, 9)}.{R.randint(0, 30)}.{R.randint(0, 20)}, see the changelog.",
        lambda: f"Windows build {ver()} crashes on start",
        lambda: f"Firmware {ver()} fixed the Wi-Fi issue",
        lambda: f"The server listens on {pick(['127.0.0.1', '0.0.0.0', 'localhost', '::1', '[::]'])}:{pick(['8080', '3000', '5432', '11434'])}",
        lambda: f"bind_address = \"{pick(['0.0.0.0', '127.0.0.1'])}\"\nport = {R.randint(1024, 9999)}",
        lambda: f"In the docs the example host is {pick(['192.0.2.', '198.51.100.', '203.0.113.'])}{R.randint(1, 254)}.",
        lambda: f"ping {pick(['192.0.2.', '198.51.100.', '203.0.113.'])}{R.randint(1, 254)} -c 4",
        lambda: f"git clone git@github.com:{pick(['rust-lang', 'openai', 'acme-corp', 'torvalds'])}/{pick(['rust', 'linux', 'widgets', 'api-server'])}.git",
        lambda: f"git remote add origin git@gitlab.com:{pick(['team', 'infra'])}/{pick(['deploy', 'site'])}.git",
        lambda: f"ISBN {isbn13_luhn()}",
        lambda: f"{pick(['The book', 'Das Buch', 'El libro', 'Le livre', 'Книга', '这本书'])} ISBN {isbn13_luhn()}",
        lambda: f"EAN {ean13_luhn()}",
        lambda: f"barcode: {ean13_luhn()}",
        lambda: f"Serial number: {rand(4, string.ascii_uppercase)}-{digits(4)}-{digits(4)}",
        lambda: f"Order {digits(3)}-{digits(7)}-{digits(7)} has shipped",
        lambda: f"Bestellnummer {digits(10)}",
        lambda: f"Tracking: {pick(['1Z', 'JJD'])}{digits(16)}",
        lambda: f"{pick(['Who was', 'Tell me about', 'Wer war', 'Qui était', '¿Quién fue', 'Расскажи про'])} {pick(FAMOUS)}?",
        lambda: f"Write a short story where {pick(FAMOUS)} meets {pick(FAMOUS)}.",
        lambda: f"{pick(FAMOUS)} was born in {R.randint(1800, 1990)}.",
        lambda: f"API_KEY=YOUR_API_KEY",
        lambda: "curl -H \"Authorization: Bearer <token>\" https://api.example.com/v1/me",
        lambda: "export OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxx",
        lambda: "Set STRIPE_SECRET to sk_live_XXXXXXXXXXXXXXXXXXXXXXXX in production.",
        lambda: "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        lambda: "token: ${GITHUB_TOKEN}",
        lambda: "password: \"********\"",
        lambda: "https://api.example.com/reset?token=<your-token>",
        lambda: f"https://www.google.com/search?q={pick(['rust+lifetimes', 'weather+berlin', 'how+to+bake+bread'])}&hl=en",
        lambda: f"https://shop.example.com/product/{digits(6)}?utm_source=newsletter&utm_medium=email&ref=home",
        lambda: f"https://github.com/{pick(['rust-lang/rust', 'leptos-rs/leptos'])}/issues/{R.randint(100, 99999)}",
        lambda: f"https://www.youtube.com/watch?v={rand(11)}",
        lambda: f"The commit {rand(40, '0123456789abcdef')} fixed it.",
        lambda: f"uuid = \"{rand(8, '0123456789abcdef')}-{rand(4, '0123456789abcdef')}-4{rand(3, '0123456789abcdef')}-a{rand(3, '0123456789abcdef')}-{rand(12, '0123456789abcdef')}\"",
        lambda: f"Meeting at {R.randint(1, 12)}:{pick(['00', '15', '30', '45'])} on {R.randint(2020, 2026)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}",
        lambda: f"Price: {R.randint(1, 9)}.{digits(3)},{digits(2)} €",
        lambda: f"Population {R.randint(1, 99)} {digits(3)} {digits(3)}",
        lambda: f"{pick(c['hi']).split('{')[0].strip(' ,')} {pick(['team', 'everyone', 'zusammen', 'allemaal', 'a todos', 'à tous', 'tutti', 'всем', 'الجميع', '大家', '皆さん', 'सभी'])}",
        lambda: f"Call {pick(['911', '112', '999'])} in an emergency.",
        lambda: f"Room 1204, building C, floor 12",
        lambda: f"The Eiffel Tower is on the Champ de Mars in Paris.",
        lambda: f"Error code 0x{rand(8, '0123456789ABCDEF')} at line {R.randint(1, 999)}",
        lambda: f"docker run -p 127.0.0.1:{R.randint(3000, 9000)}:80 nginx:1.{R.randint(20, 27)}.{R.randint(0, 5)}",
        lambda: f"coordinates {R.uniform(-80, 80):.6f}, {R.uniform(-170, 170):.6f}",
    ]
    b.add(pick(options)())
    return b


SHAPES = [("signature", signature, 14), ("form", form, 14), ("chat", chat, 22), ("code", code, 8), ("ticket", ticket, 8),
          ("clean", negative, 60)]


def half(record_id):
    return "report" if hashlib.sha256(record_id.encode()).digest()[0] & 1 else "tune"


def main():
    records = []
    for lang in LANGS:
        for shape, make, count in SHAPES:
            for i in range(count):
                b = make(lang)
                rid = f"{lang}-{shape}-{i}"
                for p in b.pii:
                    assert p["text"] in b.text, (rid, p)
                records.append({"id": rid, "lang": lang, "shape": shape, "text": b.text, "pii": b.pii})
    out = {"tune": [], "report": []}
    for r in records:
        out[half(r["id"])].append(r)
    for name, rows in out.items():
        with open(os.path.join(HERE, f"{name}.jsonl"), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        kinds = {}
        for r in rows:
            for p in r["pii"]:
                kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
        clean = sum(1 for r in rows if not r["pii"])
        print(f"{name}: {len(rows)} records, {clean} clean, spans per kind {dict(sorted(kinds.items()))}")


if __name__ == "__main__":
    main()
