#!/usr/bin/env python3
"""Evaluation set for the PII detector that scans chat messages before sharing.

Writes ``pii_set.jsonl`` next to this script: one JSON object per line,
``{"text": "...", "pii": [{"kind": "...", "text": "..."}]}``, where ``pii``
lists every piece of personal data in the snippet (kind + exact substring) and
is empty for negatives.  Kinds: email, phone, address, ip, card, iban,
secret_url, name.

Positives are realistic chat snippets (mostly English, some German, French
and Spanish) with phone, address and bank formats from several countries.
Negatives are near-misses: versions, dates, prices, ISBNs, order numbers that
fail the Luhn check, IBAN look-alikes with a bad checksum, URLs without
credentials, @-mentions, code, coordinates, UUIDs, hashes and name phrases
that are not followed by a name.

The output is deterministic (standard library only, fixed seed).  Regenerate
with:

    python3 crates/oa-privacy/tests/data/make_pii_set.py

The script checks its own output (substring property, Luhn / mod-97 on the
positives, failing checks on the negatives' look-alikes, per-kind counts) and
prints the counts.
"""

import datetime
import ipaddress
import json
import os
import re
import string
import sys

import random

R = random.Random(20261126)

KINDS = ["email", "phone", "address", "ip", "card", "iban", "secret_url", "name"]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pii_set.jsonl")


def digits(n):
    return "".join(R.choice(string.digits) for _ in range(n))


def pick(seq):
    return R.choice(seq)


# ---------------------------------------------------------------- checksums

def luhn_ok(number):
    ds = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(ds)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_complete(prefix, length):
    body = prefix + digits(length - len(prefix) - 1)
    for c in string.digits:
        if luhn_ok(body + c):
            return body + c
    raise AssertionError("unreachable")


def luhn_fail(prefix, length):
    body = prefix + digits(length - len(prefix) - 1)
    c = pick([c for c in string.digits if not luhn_ok(body + c)])
    return body + c


IBAN_LEN = {
    "DE": 22, "GB": 22, "FR": 27, "ES": 24, "NL": 18, "IT": 27, "BE": 16,
    "CH": 21, "AT": 20, "IE": 22, "PL": 28, "PT": 25, "LU": 20,
}


def _iban_num(s):
    return int("".join(str(int(c, 36)) for c in s))


def iban_ok(s):
    s = s.replace(" ", "")
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", s):
        return False
    if IBAN_LEN.get(s[:2]) != len(s):
        return False
    return _iban_num(s[4:] + s[:4]) % 97 == 1


def iban_from_bban(cc, bban):
    check = 98 - _iban_num(bban + cc + "00") % 97
    return "%s%02d%s" % (cc, check, bban)


def es_dc(ten):
    w = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]
    d = 11 - sum(int(a) * b for a, b in zip(ten, w)) % 11
    return {11: 0, 10: 1}.get(d, d)


def make_bban(cc):
    if cc == "DE":
        return pick(["10010010", "37040044", "50010517", "20041111", "70150000", "12030000"]) + digits(10)
    if cc == "GB":
        return pick(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]) + digits(6) + digits(8)
    if cc == "FR":
        bank, branch, acct = digits(5), digits(5), digits(11)
        key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(acct)) % 97
        return bank + branch + acct + "%02d" % key
    if cc == "ES":
        bank, branch, acct = pick(["2100", "0049", "0182", "2080", "0081"]), digits(4), digits(10)
        return bank + branch + "%d%d" % (es_dc("00" + bank + branch), es_dc(acct)) + acct
    if cc == "NL":
        return pick(["ABNA", "RABO", "INGB", "TRIO", "SNSB"]) + digits(10)
    if cc == "IT":
        return pick(string.ascii_uppercase) + digits(5) + digits(5) + digits(12)
    if cc == "BE":
        ten = digits(10)
        chk = int(ten) % 97 or 97
        return ten + "%02d" % chk
    if cc == "CH":
        return digits(5) + digits(12)
    if cc == "AT":
        return digits(5) + digits(11)
    if cc == "IE":
        return pick(["AIBK", "BOFI"]) + digits(6) + digits(8)
    if cc == "PL":
        return digits(24)
    if cc == "PT":
        return digits(21)
    if cc == "LU":
        return digits(3) + digits(13)
    raise KeyError(cc)


def group4(s):
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


def make_iban(cc=None):
    cc = cc or pick(["DE", "DE", "GB", "FR", "ES", "NL", "IT", "BE", "CH", "AT", "IE", "PL", "PT", "LU"])
    iban = iban_from_bban(cc, make_bban(cc))
    assert iban_ok(iban) and len(iban) == IBAN_LEN[cc]
    return group4(iban) if R.random() < 0.65 else iban


def make_bad_iban(zero_check=False):
    cc = pick(["DE", "GB", "FR", "ES", "NL", "IT", "BE", "AT"])
    iban = iban_from_bban(cc, make_bban(cc))
    if zero_check:
        # "00" is never issued; it only passes mod-97 when the real check digits are 97
        while iban_ok(iban[:2] + "00" + iban[4:]):
            iban = iban_from_bban(cc, make_bban(cc))
        iban = iban[:2] + "00" + iban[4:]
    else:
        while iban_ok(iban):
            pos = R.randrange(4, len(iban))
            if iban[pos].isdigit():
                iban = iban[:pos] + pick([d for d in string.digits if d != iban[pos]]) + iban[pos + 1:]
    assert not iban_ok(iban)
    return group4(iban) if R.random() < 0.7 else iban


# --------------------------------------------------------------------- names

FIRST = ["Sarah", "Tom", "Priya", "Jonas", "Léa", "Mateo", "Aisha", "Daniel", "Chloé", "Wei",
         "Olga", "Kwame", "Sofia", "Lukas", "Hannah", "Mehmet", "Yuki", "Carmen", "Niamh",
         "Arjun", "Elif", "Mateusz", "Fatima", "Noah", "Emma", "Lucía", "Ingrid", "Diego",
         "Amara", "Björn", "Zoë", "Rafael", "Grace", "Tobias", "Camille", "Omar", "Freya",
         "Hiroshi", "Marta", "Ben", "Liz", "Raj", "Agnieszka", "Siobhan", "Thabo", "Ana"]
MIDDLE = ["Ann", "Lena", "Pablo", "Marie", "James", "Luis", "Rose", "Kumar", "Sophie"]
LAST = ["Connor", "Becker", "Patel", "Schmidt", "Dubois", "García", "Okafor", "Nguyen",
        "Müller", "Kowalski", "Rossi", "Johansson", "Moreau", "Fernández", "Adeyemi",
        "Yılmaz", "Tanaka", "Hughes", "Lindqvist", "Novak", "Haddad", "Reyes", "Lambert",
        "Fischer", "Mensah", "Kaur", "Bianchi", "Walsh", "Sato", "Costa", "Petrov",
        "Andersen", "Ortiz", "Bauer", "Rahman", "Silva", "Weber", "Chen", "Brennan", "Lee"]

ASCII_MAP = str.maketrans({"é": "e", "í": "i", "á": "a", "ö": "o", "ü": "u", "ë": "e",
                           "ı": "i", "ç": "c", "ñ": "n", "ø": "o", "å": "a"})


def make_name(words=None):
    words = words or R.choices([1, 2, 3], weights=[3, 6, 1])[0]
    if words == 1:
        return pick(FIRST)
    if words == 2:
        return pick(FIRST) + " " + pick(LAST)
    return pick(FIRST) + " " + pick(MIDDLE) + " " + pick(LAST)


def asciify(s):
    return s.lower().translate(ASCII_MAP)


# -------------------------------------------------------------------- emails

EMAIL_DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com",
                 "eu.example.net", "mail.example.co.uk", "dept.cs.example.edu",
                 "gmail.com", "outlook.com", "web.de", "gmx.de", "orange.fr", "yahoo.es",
                 "hotmail.co.uk", "proton.me", "acme-logistics.com", "student.uni-example.de",
                 "sales.example-shop.fr", "icloud.com", "posteo.de", "correo.example.es"]


def make_email(name=None):
    name = name or make_name(2)
    parts = [asciify(p) for p in name.split()]
    first, last = parts[0], parts[-1]
    style = R.randrange(9)
    if style == 0:
        local = first + "." + last
    elif style == 1:
        local = first[0] + "." + last + "+" + pick(["shop", "news", "travel", "work", "github", "invoices"])
    elif style == 2:
        local = first + "-" + last
    elif style == 3:
        local = first + "_" + last + str(R.randint(70, 99))
    elif style == 4:
        local = first + last[0]
    elif style == 5:
        local = last + "." + first[0]
    elif style == 6:
        local = first + "+" + pick(["spam", "2024", "test", "orders"])
    elif style == 7:
        local = first + "." + last + "." + pick(["home", "work", "uk"])
    else:
        local = first + str(R.randint(1, 999))
    email = local + "@" + pick(EMAIL_DOMAINS)
    if R.random() < 0.06:
        email = email.upper() if R.random() < 0.5 else local.capitalize() + email[len(local):]
    return email


# -------------------------------------------------------------------- phones

def phone_us():
    area = pick(["212", "415", "646", "617", "312", "206", "303", "512", "718", "213", "604"])
    if R.random() < 0.6:
        ex, line = "555", "01" + digits(2)
    else:
        ex = str(R.randint(201, 989))
        while ex == "555":
            ex = str(R.randint(201, 989))
        line = digits(4)
    f = R.randrange(8)
    return ["+1 ({a}) {e}-{l}", "{a}-{e}-{l}", "({a}) {e}-{l}", "+1-{a}-{e}-{l}",
            "{a}.{e}.{l}", "+1 {a} {e} {l}", "1-{a}-{e}-{l}", "({a}) {e}-{l}"][f].format(a=area, e=ex, l=line)


def phone_uk():
    f = R.randrange(8)
    x3 = digits(3)
    return ["+44 20 7946 0" + x3, "020 7946 0" + x3, "+44 7700 900" + x3, "07700 900" + x3,
            "07700900" + x3, "0161 496 0" + x3, "+44 161 496 0" + x3,
            "+44 (0)20 7946 0" + x3][f]


def phone_de():
    f = R.randrange(8)
    if f == 0:
        return "+49 30 " + digits(R.choice([6, 7, 8]))
    if f == 1:
        return "030 " + digits(4) + " " + digits(4)
    if f == 2:
        return "015" + pick("1279") + " " + digits(8)
    if f == 3:
        return "+49 15" + pick("1279") + " " + digits(4) + " " + digits(4)
    if f == 4:
        return "0176/" + digits(8)
    if f == 5:
        return "+49 (0)89 " + digits(7)
    if f == 6:
        return "089 " + digits(3) + " " + digits(4)
    return "+49 40 " + digits(3) + " " + digits(3) + "-" + digits(2)


def phone_fr():
    pairs = lambda n: [digits(2) for _ in range(n)]
    f = R.randrange(5)
    lead = pick("1234567")
    p = pairs(4)
    if f == 0:
        return "+33 %s %s" % (lead, " ".join(p))
    if f == 1:
        return "0%s %s" % (lead, " ".join(p))
    if f == 2:
        return "0%s.%s" % (lead, ".".join(p))
    if f == 3:
        return "+33 (0)%s %s" % (lead, " ".join(p))
    return "0%s%s" % (lead, "".join(p))


def phone_es():
    f = R.randrange(4)
    if f == 0:
        return "+34 91%s %s %s" % (digits(1), digits(3), digits(3))
    if f == 1:
        return "+34 6%s %s %s %s" % (digits(2), digits(2), digits(2), digits(2))
    if f == 2:
        return "6%s %s %s" % (digits(2), digits(3), digits(3))
    return "93 %s %s %s" % (digits(3), digits(2), digits(2))


def phone_other():
    f = R.randrange(6)
    return ["+61 2 %s %s" % (digits(4), digits(4)),
            "+91 9%s %s" % (digits(4), digits(5)),
            "+81 3-%s-%s" % (digits(4), digits(4)),
            "+31 20 %s %s" % (digits(3), digits(4)),
            "+39 06 %s %s" % (digits(4), digits(4)),
            "+353 1 %s %s" % (digits(3), digits(4))][f]


def make_phone(lang="en"):
    if lang == "de":
        return phone_de()
    if lang == "fr":
        return phone_fr()
    if lang == "es":
        return phone_es()
    return R.choices([phone_us, phone_uk, phone_de, phone_fr, phone_es, phone_other],
                     weights=[5, 4, 2, 2, 1, 2])[0]()


# ----------------------------------------------------------------- addresses

US_STREETS = ["Maple Street", "Oak Avenue", "Pine St.", "Cedar Lane", "Elm Street", "Washington Blvd",
              "Lincoln Avenue", "Mission Street", "Valencia St", "Sunset Boulevard", "Lakeview Drive",
              "Hillcrest Road", "Main Street", "Park Place", "Evergreen Terrace", "Willow Court",
              "Harbor Way", "Ridge Rd.", "Magnolia Dr."]
US_CITIES = [("San Francisco", "CA", "941"), ("Austin", "TX", "787"), ("Portland", "OR", "972"),
             ("Chicago", "IL", "606"), ("Brooklyn", "NY", "112"), ("Seattle", "WA", "981"),
             ("Denver", "CO", "802"), ("Boston", "MA", "021"), ("Springfield", "IL", "627")]
UK_STREETS = ["Baker Street", "Church Lane", "Victoria Road", "High Street", "Station Road",
              "Mill Lane", "Queen's Road", "Park Avenue", "Kings Road", "Albert Terrace",
              "Gloucester Place", "Wellington Crescent"]
UK_CITIES = [("London", "NW1 6XE"), ("Manchester", "M4 1HN"), ("Leeds", "LS6 1DR"), ("Bristol", "BS1 5TR"),
             ("Oxford", "OX1 4AJ"), ("Edinburgh", "EH1 2NG"), ("Cardiff", "CF10 1EP"),
             ("Brighton", "BN1 1AE"), ("London", "SW1A 2AA"), ("London", "E1 6AN")]
DE_STREETS = ["Hauptstraße", "Bahnhofstraße", "Goethestraße", "Schillerstr.", "Lindenallee",
              "Gartenweg", "Berliner Straße", "Am Markt", "Kastanienallee", "Friedrichstraße",
              "Dorfstraße", "Mozartweg", "Karl-Marx-Allee", "Schönhauser Allee"]
DE_CITIES = ["10115 Berlin", "10437 Berlin", "80331 München", "20095 Hamburg", "50667 Köln",
             "60311 Frankfurt am Main", "70173 Stuttgart", "04109 Leipzig", "28195 Bremen",
             "01067 Dresden"]
FR_STREETS = ["rue de la Paix", "avenue Victor Hugo", "boulevard Saint-Michel", "rue des Lilas",
              "place de la République", "rue Gambetta", "rue du Faubourg Saint-Antoine",
              "avenue Jean Jaurès", "rue des Écoles", "quai de la Tournelle", "allée des Tilleuls",
              "impasse des Roses"]
FR_CITIES = ["75002 Paris", "75011 Paris", "69002 Lyon", "13001 Marseille", "31000 Toulouse",
             "33000 Bordeaux", "59000 Lille", "44000 Nantes", "67000 Strasbourg"]
ES_STREETS = ["Calle Mayor", "Calle de Alcalá", "Gran Vía", "Avenida de la Constitución",
              "Paseo del Prado", "Carrer de Balmes", "Calle Serrano", "C/ Real", "Avda. de América",
              "Plaza de Colón", "Calle del Carmen"]
ES_CITIES = ["28013 Madrid", "28001 Madrid", "08008 Barcelona", "41001 Sevilla", "46002 Valencia",
             "29015 Málaga", "48001 Bilbao", "50001 Zaragoza"]


def addr_us():
    num = str(R.randint(1, 9899))
    street = pick(US_STREETS)
    if R.random() < 0.12:
        street += " " + pick(["NW", "SE", "NE"])
    a = num + " " + street
    if R.random() < 0.25:
        a += ", " + pick(["Apt 4B", "Apt. 12", "Suite 210", "Unit 7", "#305"])
    if R.random() < 0.6:
        city, st, z = pick(US_CITIES)
        a += ", %s, %s %s%02d" % (city, st, z, R.randint(1, 99))
    return a


def addr_uk():
    num = str(R.randint(1, 240))
    if R.random() < 0.15:
        num += pick("ABab")
    a = num + " " + pick(UK_STREETS)
    if R.random() < 0.2:
        a = "Flat %d, %s" % (R.randint(1, 12), a)
    if R.random() < 0.7:
        city, pc = pick(UK_CITIES)
        a += (", %s %s" if R.random() < 0.7 else ", %s, %s") % (city, pc)
    return a


def addr_de():
    num = str(R.randint(1, 160))
    if R.random() < 0.15:
        num += pick("ab")
    a = pick(DE_STREETS) + " " + num
    if R.random() < 0.75:
        a += ", " + pick(DE_CITIES)
    return a


def addr_fr():
    num = str(R.randint(1, 140))
    if R.random() < 0.1:
        num += " bis"
    a = num + " " + pick(FR_STREETS)
    if R.random() < 0.75:
        a += ", " + pick(FR_CITIES)
    return a


def addr_es():
    a = pick(ES_STREETS) + " " + str(R.randint(1, 180))
    if R.random() < 0.2:
        a += ", %dº %s" % (R.randint(1, 8), pick("ABCD"))
    if R.random() < 0.75:
        a += ", " + pick(ES_CITIES)
    return a


def make_address(lang="en"):
    if lang == "de":
        return addr_de()
    if lang == "fr":
        return addr_fr()
    if lang == "es":
        return addr_es()
    return R.choices([addr_us, addr_uk, addr_de, addr_fr, addr_es], weights=[5, 4, 2, 2, 1])[0]()


# ------------------------------------------------------------------------ IPs

# Public addresses only: the documentation ranges of RFC 5737 / RFC 3849 (192.0.2.0/24,
# 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are never anyone's, and the detector is
# right not to flag them.
def make_ipv4():
    f = R.randrange(7)
    if f == 0:
        return "81.2.69.%d" % R.randint(1, 254)
    if f == 1:
        return "94.134.88.%d" % R.randint(1, 254)
    if f == 2:
        return "118.42.7.%d" % R.randint(1, 254)
    if f == 3:
        return "10.%d.%d.%d" % (R.randint(0, 255), R.randint(0, 255), R.randint(1, 254))
    if f == 4:
        return "172.%d.%d.%d" % (R.randint(16, 31), R.randint(0, 255), R.randint(1, 254))
    if f == 5:
        return "192.168.%d.%d" % (R.randint(0, 10), R.randint(2, 254))
    return "%d.%d.%d.%d" % (pick([31, 46, 62, 77, 84, 91, 109, 145, 151, 176, 185, 212, 217]),
                            R.randint(0, 255), R.randint(0, 255), R.randint(1, 254))


def h16(pad=False):
    v = "%x" % R.randint(1, 0xffff)
    return v.zfill(4) if pad else v


def make_ipv6():
    f = R.randrange(7)
    if f == 0:
        ip = "2a02:810d::" + h16()
    elif f == 1:
        ip = "2a02:810d:%s:%s::%s" % (h16(), h16(), h16())
    elif f == 2:
        ip = ":".join(["2a0a", "a540"] + [h16(True) for _ in range(6)])
    elif f == 3:
        ip = "fe80::%s:%sff:fe%02x:%s" % (h16(), "%02x" % R.randint(0, 255), R.randint(0, 255), h16())
    elif f == 4:
        ip = "2a02:8108:%s:%s::%s" % (h16(), h16(), h16())
    elif f == 5:
        ip = "2a01:4f8:%s:%s::2" % (h16(), h16())
    else:
        ip = "2a0a:a540:85a3:0000:0000:%s:%s:%s" % (h16(True), h16(True), h16(True))
    if R.random() < 0.15:
        ip = ip.upper()
    ipaddress.IPv6Address(ip)
    return ip


def make_ip():
    return make_ipv6() if R.random() < 0.35 else make_ipv4()


# ---------------------------------------------------------------------- cards

TEST_CARDS = ["4111 1111 1111 1111", "5555 5555 5555 4444", "4242 4242 4242 4242",
              "3782 822463 10005", "6011 1111 1111 1117", "4000 0566 5566 5556"]


def fmt_card(num, sep):
    n = len(num)
    if n == 15:
        groups = [4, 6, 5]
    elif n == 14:
        groups = [4, 6, 4]
    elif n == 13:
        groups = [4, 3, 3, 3]
    elif n == 19:
        groups = [4, 4, 4, 4, 3]
    else:
        groups = [4] * (n // 4)
    out, i = [], 0
    for g in groups:
        out.append(num[i:i + g])
        i += g
    return sep.join(out)


def make_card():
    if R.random() < 0.08:
        return pick(TEST_CARDS)
    kind = R.choices(["visa", "visa13", "mc", "mc2", "amex", "disc", "jcb", "maestro", "diners", "unionpay"],
                     weights=[8, 1, 5, 2, 3, 2, 1, 2, 1, 1])[0]
    prefix, length = {
        "visa": (pick(["4"]), 16), "visa13": ("4", 13), "mc": (pick(["51", "52", "53", "54", "55"]), 16),
        "mc2": (str(R.randint(2221, 2720)), 16), "amex": (pick(["34", "37"]), 15),
        "disc": (pick(["6011", "65"]), 16), "jcb": (str(R.randint(3528, 3589)), 16),
        "maestro": (pick(["6759", "5018", "6761"]), 19), "diners": (pick(["36", "38"]), 14),
        "unionpay": ("62", 19),
    }[kind]
    num = luhn_complete(prefix, length)
    sep = R.choices([" ", "-", ""], weights=[6, 2, 3])[0]
    return fmt_card(num, sep) if sep or R.random() < 0.5 else num


# ---------------------------------------------------------------- secret URLs

def tok(n, alphabet=string.ascii_letters + string.digits):
    return "".join(R.choice(alphabet) for _ in range(n))


def hexs(n):
    return tok(n, "0123456789abcdef")


HOSTS = ["api.example.com", "files.example.net", "hooks.example.org", "dashboard.example.io",
         "cdn.example.com", "storage.example.com", "reports.acme-logistics.com", "share.example.de",
         "intranet.example.fr", "status.example.es", "dl.example.org"]
USERS = ["admin", "deploy", "backup", "svc_ci", "root", "app", "jenkins", "ops", "reader"]


def pw():
    return tok(R.randint(6, 12)) + pick(["", "", "!", "-", "_", "~", "$"]) + tok(R.randint(1, 3))


def make_secret_url():
    host = pick(HOSTS)
    f = R.randrange(17)
    if f == 0:
        return "https://%s/v1/export?token=%s" % (host, tok(32))
    if f == 1:
        return "https://%s/reports/q%d.csv?access_token=%s&dl=1" % (host, R.randint(1, 4), tok(40))
    if f == 2:
        return "https://%s/api/data?format=json&api_key=%s" % (host, hexs(32))
    if f == 3:
        return "https://maps.googleapis.com/maps/api/js?key=AIzaSy%s&callback=initMap" % tok(33, string.ascii_letters + string.digits + "_-")
    if f == 4:
        return ("https://%s.blob.core.windows.net/backups/db-%s.bak?sv=2022-11-02&ss=b&srt=o&sp=r"
                "&se=2025-01-01T00:00:00Z&sig=%s%%3D" % (pick(["acmebackups", "examplestore", "teamfiles"]),
                                                        digits(8), tok(43)))
    if f == 5:
        return ("https://%s/dl/invoice-%s.pdf?Expires=17356%s&Signature=%s&Key-Pair-Id=K2%s"
                % (host, digits(5), digits(5), tok(60, string.ascii_letters + string.digits + "~-"), tok(12).upper()))
    if f == 6:
        return "https://%s/login?user=%s&password=%s" % (host, pick(USERS), pw())
    if f == 7:
        return "https://%s/hooks/incoming?secret=%s" % (host, hexs(40))
    if f == 8:
        return "https://%s/calendar/feed.ics?auth=%s" % (host, tok(28))
    if f == 9:
        return "https://%s:%s@%s/team/%s.git" % (pick(USERS), pw(), pick(["git.example.com", "code.example.org"]),
                                                 pick(["infra", "website", "mobile-app", "billing"]))
    if f == 10:
        return "ftp://%s:%s@%s/dumps/" % (pick(USERS), pw(), pick(["files.example.net", "ftp.example.org"]))
    if f == 11:
        return "postgres://%s:%s@db.%s:5432/%s" % (pick(USERS), pw(), pick(["example.com", "internal.example.net"]),
                                                   pick(["prod", "app", "analytics"]))
    if f == 12:
        return "https://%s/share?id=%s&sig=%s" % (host, digits(5), hexs(24))
    if f == 13:
        return "http://%s:8080/status?token=%s" % (host, hexs(20))
    if f == 14:
        return "https://%s:%s@%s/admin/" % (pick(USERS), pw(), host)
    if f == 15:
        return "https://%s/reset?email_sent=1&token=%s" % (host, tok(24))
    return "https://%s/webhook?key=%s&channel=alerts" % (host, tok(24))


# ------------------------------------------------------------------- helpers

PH_RE = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
PH_KIND = {"EMAIL": "email", "PHONE": "phone", "ADDR": "address", "IP": "ip", "CARD": "card",
           "IBAN": "iban", "URL": "secret_url", "NAME": "name"}


def render(tpl, values):
    """Fill {PLACEHOLDER}s; returns (text, spans) with exact (start, end, kind)."""
    out, spans, pos = [], [], 0
    length = 0
    for m in PH_RE.finditer(tpl):
        lit = tpl[pos:m.start()]
        out.append(lit)
        length += len(lit)
        key = m.group(1)
        val = values[key]
        kind = PH_KIND.get(re.sub(r"\d+$", "", key))
        if kind is not None:
            spans.append((length, length + len(val), kind))
        out.append(val)
        length += len(val)
        pos = m.end()
    out.append(tpl[pos:])
    return "".join(out), spans


PREFIXES = ["", "", "", "", "", "ok ", "hey, ", "btw ", "fyi: ", "sorry — ", "quick one: ", "so "]
SUFFIXES = ["", "", "", "", "", " 🙂", " thx", " 👍", " ty", " 🙏"]


SUFFIXES_INTL = ["", "", "", " 🙂", " 👍", " 🙏"]


def decorate(text, spans, lang="en"):
    """Chat-style prefix/suffix; English only gets a lead-in, code gets nothing."""
    if lang == "code":
        return text, spans
    bare = len(spans) == 1 and spans[0][0] == 0 and spans[0][1] == len(text)
    pre = pick(PREFIXES) if lang == "en" and not bare else ""
    if pre and not (spans and spans[0][0] == 0) and text[:1].isalpha() and text[1:2].islower():
        text = text[0].lower() + text[1:]
    suf = pick(SUFFIXES if lang == "en" else SUFFIXES_INTL)
    return pre + text + suf, [(a + len(pre), b + len(pre), k) for a, b, k in spans]


# ------------------------------------------------------------------ positives
# (template, language); placeholders: EMAIL PHONE ADDR IP CARD IBAN URL NAME (+2 suffix for a second one)

POS = {
    "email": [
        ("you can reach me at {EMAIL} anytime", "en"),
        ("{EMAIL} is my work address, use that one pls", "en"),
        ("Send the invoice to {EMAIL}.", "en"),
        ("My email changed, it's now {EMAIL}", "en"),
        ("can you cc {EMAIL} on the thread?", "en"),
        ("Ping {EMAIL} – she handles refunds", "en"),
        ("mail me: {EMAIL}", "en"),
        ("Forwarding to <{EMAIL}> now", "en"),
        ("Contact (email: {EMAIL}) for the keys", "en"),
        ("Contact: mailto:{EMAIL}", "en"),
        ("just drop a line to {EMAIL}, subject 'tickets'", "en"),
        ("login is {EMAIL} but I forgot which password", "en"),
        ("{EMAIL}", "en"),
        ("Shared the doc with {EMAIL} and {EMAIL2}", "en"),
        ("use {EMAIL} for the newsletter, not my main one", "en"),
        ("the recruiter wrote from {EMAIL}?? weird", "en"),
        ("is it {EMAIL} or the old one? bounced twice", "en"),
        ("Add {EMAIL} to the calendar invite please", "en"),
        ("sent from {EMAIL}; check spam if you don't see it", "en"),
        ("New address → {EMAIL}", "en"),
        ("Schreib mir einfach an {EMAIL}, danke!", "de"),
        ("Meine neue Adresse ist {EMAIL}", "de"),
        ("Mon adresse mail : {EMAIL}", "fr"),
        ("Tu peux m'écrire sur {EMAIL} ce soir", "fr"),
        ("Escríbeme a {EMAIL} cuando puedas.", "es"),
        ("Mi correo es {EMAIL}", "es"),
    ],
    "phone": [
        ("call me on {PHONE} after 6", "en"),
        ("My number is {PHONE}.", "en"),
        ("{PHONE} – that's the front desk", "en"),
        ("text {PHONE} if you get lost", "en"),
        ("new mobile: {PHONE}", "en"),
        ("Can you ring {PHONE}? They close at 17:00", "en"),
        ("whatsapp me at {PHONE}", "en"),
        ("the landlord's number is {PHONE}, he picks up after 9", "en"),
        ("if no answer try {PHONE} or {PHONE2}", "en"),
        ("Reception: {PHONE} (ext. 12)", "en"),
        ("{PHONE}", "en"),
        ("my cell's dead, use {PHONE} for today", "en"),
        ("Delivery guy called from {PHONE}, is that you?", "en"),
        ("here's the vet's number {PHONE} – open till 8", "en"),
        ("pls save {PHONE} as my new number", "en"),
        ("Signal: {PHONE}", "en"),
        ("missed call from {PHONE}??", "en"),
        ("Ruf mich an unter {PHONE}", "de"),
        ("Meine Handynummer: {PHONE}", "de"),
        ("Mon numéro : {PHONE}", "fr"),
        ("Appelle-moi au {PHONE} demain", "fr"),
        ("Llámame al {PHONE}", "es"),
        ("Mi número es el {PHONE}, escríbeme por WhatsApp", "es"),
    ],
    "address": [
        ("I'm at {ADDR}, ring the top bell", "en"),
        ("ship it to {ADDR} please", "en"),
        ("{ADDR} is the new office", "en"),
        ("The party is at {ADDR}!", "en"),
        ("My address: {ADDR}", "en"),
        ("we moved to {ADDR} last month", "en"),
        ("Pick-up point is {ADDR} (side entrance)", "en"),
        ("Meet at {ADDR}? around 10:30", "en"),
        ("send the keys to {ADDR}", "en"),
        ("Return address: {ADDR}", "en"),
        ("the parcel went to {ADDR} instead of my place", "en"),
        ("Dinner at mine → {ADDR}, 7pm", "en"),
        ("{ADDR}", "en"),
        ("can you update my billing address to {ADDR}", "en"),
        ("Lieferadresse: {ADDR}", "de"),
        ("Neue Adresse: {ADDR} (ab 1. März)", "de"),
        ("Wir sind ab Montag hier: {ADDR}", "de"),
        ("Je suis au {ADDR}, 3e étage", "fr"),
        ("Adresse de livraison : {ADDR}", "fr"),
        ("Vivo en {ADDR}", "es"),
        ("La fiesta es en {ADDR}, a las 21h", "es"),
    ],
    "ip": [
        ("my server is at {IP}", "en"),
        ("can you whitelist {IP}?", "en"),
        ("ssh into {IP} and restart nginx", "en"),
        ("login attempts from {IP} again", "en"),
        ("{IP} keeps timing out", "en"),
        ("set the DNS to {IP} and try again", "en"),
        ("blocked {IP} in the firewall, fyi", "en"),
        ("curl http://{IP}:8080/health returns 500", "en"),
        ("my home IP is {IP} if you need it for the allowlist", "en"),
        ("router says WAN {IP}, LAN {IP2}", "en"),
        ("the printer is on {IP}", "en"),
        ("getting 403 from {IP} since the deploy", "en"),
        ("VPN gave me {IP}", "en"),
        ("logs show {IP4}:443 refusing connections", "en"),
        ("nginx listens on [{IP6}]:443 now", "en"),
        ("AAAA record points to {IP6}, A record is still empty", "en"),
        ("Die IP vom Drucker ist {IP}", "de"),
        ("Le serveur répond sur {IP}", "fr"),
        ("La IP del router es {IP}", "es"),
    ],
    "card": [
        ("card number is {CARD}, exp 09/27", "en"),
        ("here's my card: {CARD}", "en"),
        ("{CARD} – use this one for the booking", "en"),
        ("Can you charge {CARD} instead?", "en"),
        ("paid with {CARD} and it says declined", "en"),
        ("use {CARD} in the sandbox checkout", "en"),
        ("my new card is {CARD}, the old one expired", "en"),
        ("Card: {CARD}", "en"),
        ("put the deposit on {CARD} please", "en"),
        ("the company card is {CARD} (don't save it)", "en"),
        ("{CARD}", "en"),
        ("Meine Kartennummer: {CARD}", "de"),
        ("Numéro de carte : {CARD}", "fr"),
        ("El número de la tarjeta es {CARD}", "es"),
    ],
    "iban": [
        ("please transfer to {IBAN}", "en"),
        ("IBAN: {IBAN}", "en"),
        ("my iban is {IBAN}, the account is in my name", "en"),
        ("{IBAN} (that's the joint account)", "en"),
        ("send the deposit to {IBAN} by Friday", "en"),
        ("rent goes to {IBAN} from now on", "en"),
        ("bank details → {IBAN}", "en"),
        ("wire it to {IBAN}, reference 'flat 3'", "en"),
        ("{IBAN}", "en"),
        ("Überweis einfach auf {IBAN}.", "de"),
        ("Meine IBAN lautet {IBAN}", "de"),
        ("Mon IBAN : {IBAN}", "fr"),
        ("Mi IBAN es {IBAN}", "es"),
        ("Hazme un Bizum o transferencia a {IBAN}", "es"),
    ],
    "secret_url": [
        ("here's the link: {URL}", "en"),
        ("{URL} — don't share this one", "en"),
        ("Use {URL} to download the export.", "en"),
        ("the webhook is {URL}", "en"),
        ("clone from {URL} (creds baked in, sorry)", "en"),
        ("see ({URL})", "en"),
        ("oops, pasted {URL} into the public channel", "en"),
        ("connection string: {URL}", "en"),
        ("{URL}", "en"),
        ("can you open {URL}? it works for me", "en"),
        ("link expires tomorrow: <{URL}>", "en"),
        ("Der Link: {URL}", "de"),
        ("Voici le lien {URL} pour le rapport", "fr"),
        ("Te paso el enlace: {URL}", "es"),
    ],
    "name": [
        ("Hi, I'm {NAME} from the lettings team", "en"),
        ("my name is {NAME}, I booked table 12", "en"),
        ("Hey all! I'm {NAME}.", "en"),
        ("This is {NAME}, calling about the leak", "en"),
        ("Call me {NAME}, everyone does.", "en"),
        ("Best regards, {NAME}", "en"),
        ("Thanks again!\nKind regards,\n{NAME}", "en"),
        ("Signed, {NAME}", "en"),
        ("hello i am {NAME} and i'd like a refund", "en"),
        ("MY NAME IS {NAME} and this is urgent", "en"),
        ("this is {NAME} 👋", "en"),
        ("I’m {NAME}, the new flatmate", "en"),
        ("Regards,\n{NAME}", "en"),
        ("hi there, my name is {NAME}", "en"),
        ("Good morning, this is {NAME} from reception.", "en"),
        ("please call me {NAME} — the full name is a mouthful", "en"),
        ("I am {NAME}, the one who emailed yesterday", "en"),
        ("See you Monday.\nsigned,\n{NAME}", "en"),
        ("warm regards, {NAME}", "en"),
        ("Hallo zusammen, I'm {NAME} 🙂", "en"),
        ("Merci ! Regards, {NAME}", "en"),
        ("im new here — My Name Is {NAME}", "en"),
    ],
}

COMBOS = [
    ("Hi, I'm {NAME}, my email is {EMAIL}", "en"),
    ("This is {NAME}, please call back on {PHONE}.", "en"),
    ("Deliver to {ADDR}; if nobody answers call {PHONE}", "en"),
    ("{EMAIL} / {PHONE}", "en"),
    ("card {CARD}, billing address {ADDR}", "en"),
    ("Please pay into {IBAN}.\nRegards,\n{NAME}", "en"),
    ("server {IP} pulls from {URL}", "en"),
    ("my email is {EMAIL} and I live at {ADDR}", "en"),
    ("My name is {NAME} and I live at {ADDR}", "en"),
    ("alerts for {IP} go to {EMAIL}", "en"),
    ("Thanks!\nBest regards,\n{NAME}\n{PHONE}", "en"),
    ("charge {CARD} and send the receipt to {EMAIL}", "en"),
    ("the api at {IP} rejects {URL} now", "en"),
    ("call me on {PHONE} or email {EMAIL}", "en"),
    ("refund to {IBAN} please, questions to {EMAIL}", "en"),
    ("Kind regards, {NAME} | {EMAIL}", "en"),
    ("Ich bin unter {PHONE} erreichbar, Adresse: {ADDR}", "de"),
    ("Livraison au {ADDR}, tél. {PHONE}", "fr"),
    ("Envíalo a {ADDR}. Mi teléfono: {PHONE}", "es"),
    ("IBAN {IBAN} – Rückfragen an {EMAIL}", "de"),
]


def fill_values(tpl, lang, name=None):
    vals = {}
    for key in PH_RE.findall(tpl):
        base = re.sub(r"\d+$", "", key)
        if base == "NAME":
            vals[key] = name or make_name()
        elif base == "EMAIL":
            vals[key] = make_email(name if (name and " " in name and R.random() < 0.7) else None)
        elif base == "PHONE":
            vals[key] = make_phone(lang)
        elif base == "ADDR":
            vals[key] = make_address(lang)
        elif base == "IP":
            vals[key] = {"IP6": make_ipv6, "IP4": make_ipv4}.get(key, make_ip)()
        elif base == "CARD":
            vals[key] = make_card()
        elif base == "IBAN":
            cc = {"de": pick(["DE", "DE", "AT", "CH"]), "fr": pick(["FR", "FR", "BE", "LU"]),
                  "es": "ES"}.get(lang)
            vals[key] = make_iban(cc)
        elif base == "URL":
            vals[key] = make_secret_url()
        else:
            raise KeyError(key)
    return vals


def make_positive(tpl, lang):
    name = make_name() if "{NAME}" in tpl else None
    if "{EMAIL}" in tpl and name and " " not in name and R.random() < 0.5:
        name = make_name(2)
    text, spans = render(tpl, fill_values(tpl, lang, name))
    if "\n" not in tpl:
        text, spans = decorate(text, spans, lang)
    return text, spans


# ------------------------------------------------------------------ negatives

def semver():
    return "%d.%d.%d" % (R.randint(0, 12), R.randint(0, 30), R.randint(0, 40))


MONTHS = {"en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
          "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
                 "Oktober", "November", "Dezember"],
          "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                 "octobre", "novembre", "décembre"],
          "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
                 "octubre", "noviembre", "diciembre"]}


def fmt_date(y, m, d, style, lang="en"):
    if style == "iso":
        return "%d-%02d-%02d" % (y, m, d)
    if style == "dmy":
        return "%02d/%02d/%d" % (d, m, y)
    if style == "mdy":
        return "%02d/%02d/%d" % (m, d, y)
    if style == "dot":
        return "%02d.%02d.%d" % (d, m, y)
    if lang == "en":
        return "%s %d, %d" % (MONTHS["en"][m - 1], d, y)
    return ("%d. %s %d" if lang == "de" else "%d %s %d") % (d, MONTHS[lang][m - 1], y)


DATE_STYLES = {"en": ["iso", "dmy", "mdy", "long", "long"], "de": ["dot", "dot", "long", "iso"],
               "fr": ["dmy", "dmy", "long"], "es": ["dmy", "dmy", "long"]}


def date_any(lang="en", style=None):
    y, m, d = R.randint(2019, 2026), R.randint(1, 12), R.randint(1, 28)
    return fmt_date(y, m, d, style or pick(DATE_STYLES[lang]), lang)


def date_range():
    y = R.randint(2019, 2026)
    style = pick(DATE_STYLES["en"])
    m1 = R.randint(1, 10)
    return fmt_date(y, m1, 1, style), fmt_date(y, m1 + 2, 28, style)


def time_any(lang="en"):
    h, mi = R.randint(7, 22), pick([0, 15, 30, 45, 5, 50])
    if lang != "en":
        return "%d:%02d" % (h, mi)
    return pick(["%d:%02d" % (h, mi), "%02d:%02d" % (h, mi), "%d.%02dpm" % (h % 12 or 12, mi),
                 "%d:%02d%s" % (h % 12 or 12, mi, "am" if h < 12 else "pm")])


def time_range():
    h, mi = R.randint(7, 18), pick([0, 15, 30, 45])
    h2 = h + R.randint(1, 4)
    if R.random() < 0.5:
        return "%d:%02d" % (h, mi), "%d:%02d" % (h2, mi)
    ampm = lambda x: "%d%s" % (x % 12 or 12, "am" if x < 12 else "pm")
    return ampm(h), ampm(h2)


def isbn13():
    while True:
        body = pick(["978", "979"]) + digits(9)
        s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body))
        num = body + str((10 - s % 10) % 10)
        if not luhn_ok(num):
            return "%s-%s-%s-%s-%s" % (num[:3], num[3], num[4:7], num[7:12], num[12])


def isbn10():
    body = digits(9)
    c = sum((10 - i) * int(x) for i, x in enumerate(body)) % 11
    c = (11 - c) % 11
    return "%s-%s-%s-%s" % (body[0], body[1:4], body[4:9], "X" if c == 10 else str(c))


def ean13():
    while True:
        body = pick(["400", "401", "300", "590", "842", "880"]) + digits(9)
        s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body))
        num = body + str((10 - s % 10) % 10)
        if not luhn_ok(num):
            return num


def order16(grouped):
    num = luhn_fail(str(R.randint(1, 9)), 16)
    if grouped:
        return fmt_card(num, pick([" ", "-"]))
    return num


def longnum():
    return luhn_fail(str(R.randint(1, 9)), R.randint(13, 19))


def price(size="big", lang="en"):
    if lang != "en":
        if size == "small":
            return pick(["%d,%02d €" % (R.randint(3, 199), pick([0, 99, 50, 90])), "%d €" % R.randint(5, 150)])
        return pick(["%d.%03d,00 €" % (R.randint(1, 3), R.randint(0, 999)), "%d,%02d €" % (R.randint(200, 999), pick([0, 99, 50])),
                     "%d.%03d €" % (R.randint(1, 9), R.randint(0, 999))])
    if size == "small":
        return pick(["$%d.%02d" % (R.randint(5, 299), pick([0, 99, 95, 49])), "€%d,%02d" % (R.randint(5, 299), pick([0, 99, 50])),
                     "£%d" % R.randint(20, 300), "£%d.%02d" % (R.randint(5, 300), pick([0, 99, 49]))])
    return pick(["$%s,%03d.%02d" % (R.randint(1, 4), R.randint(0, 999), pick([0, 99, 0])),
                 "€%d,%02d" % (R.randint(300, 999), pick([0, 99, 50])),
                 "£%s,%03d" % (R.randint(1, 3), R.randint(0, 999)),
                 "USD %d,%03d" % (R.randint(1, 9), R.randint(0, 999)), "¥%d,000" % R.randint(20, 300)])


def uuid():
    return "%s-%s-4%s-%s%s-%s" % (hexs(8), hexs(4), hexs(3), pick("89ab"), hexs(3), hexs(12))


def coord():
    lat, lon = R.uniform(-60, 70), R.uniform(-170, 170)
    return pick(["%.4f, %.4f" % (lat, lon),
                 "%.4f° %s, %.4f° %s" % (abs(lat), "N" if lat >= 0 else "S", abs(lon), "E" if lon >= 0 else "W"),
                 "lat %.3f lon %.3f" % (lat, lon)])


def math_expr():
    a, b = R.randint(2, 99), R.randint(2, 30)
    return pick(["%d + %d = %d" % (a, b, a + b), "%d * %d = %d" % (a, b, a * b), "%d - %d = %d" % (a, b, a - b),
                 "2^%d = %d" % (b, 2 ** b), "%d %% %d == %d" % (a, b, a % b), "(%d + %d) / 2 = %g" % (a, b, (a + b) / 2),
                 "sqrt(%d) = %d" % (a * a, a)])


SAFE_URLS = [
    "https://example.com/search?q=cats&page=2",
    "https://docs.example.org/auth/login",
    "https://news.example.com/article?id={N5}&ref=home",
    "https://shop.example.com/list?sort=price&author=smith",
    "https://blog.example.net/posts?keyword=tokens&lang=en",
    "https://example.com/docs/api-keys#rotating",
    "https://github.com/rust-lang/rust/issues/{N5}",
    "http://localhost:3000/dashboard",
    "https://example.com/tools?tokenizer=bpe&vocab=32k",
    "https://www.example.de/suche?begriff=fahrrad&seite={N1}",
    "https://example.fr/recherche?q=boulangerie&ville=lyon",
    "https://example.es/buscar?q=piso+madrid&orden=precio",
    "https://recipes.example.com/search?q=turkey&keyword=stuffing",
    "https://example.com/signup?plan=pro&design=dark",
    "https://video.example.com/watch?v=dQw4w9WgXcQ&t=42s",
    "https://example.org/passwords-explained",
    "https://status.example.com/?region=eu-west-1",
]

# Negative templates: plain strings are English chat; (template, lang) tuples are
# German/French/Spanish ("de"/"fr"/"es") or code ("code", never decorated).
NEG = [
    # versions (no bare dotted quads: 4-part versions carry a "v" or a part > 255)
    "upgraded to v{SEMVER} this morning, no issues so far",
    "we're still on {SEMVER}, need to bump before Friday",
    "Firmware {V4} fixed the wifi drops",
    "release notes for v{SEMVER}-rc.{N1} are up",
    "Requires Python 3.{N1}.{N1B} or newer",
    "my laptop is on Windows build {WINBUILD}",
    "Chrome {CHROME} broke the date picker again",
    "bumped serde from {SEMVER} to {SEMVER2}",
    "node v{SEMVER} vs v{SEMVER2}: same bug",
    ("pin it to =={SEMVER} in requirements.txt", "code"),
    "OID {OID} is the enterprise prefix in that MIB",
    "changelog: v{SEMVER} ({DATE}) — fixed crash on startup",
    "Docker image tag is {SEMVER}-alpine",
    "kernel 6.{N1}.{N1B}-arch1-1 won't boot",
    "section {N1}.{N1B}.{N1C} of the spec covers this",
    "can confirm {V4} is the last build that works",
    "the app says {V4} but the store page says {SEMVER}",
    ("Das Update auf Version {SEMVER} ist raus", "de"),
    ("Versión {SEMVER} publicada el {DATE_ES}", "es"),
    ("Mise à jour {SEMVER} prévue le {DATE_FR}", "fr"),
    # dates & times
    "let's do {DATE} at {TIME}?",
    "deadline moved to {DATE}",
    "Standup is at {TIME} tomorrow",
    "the log says {ISO}",
    "the film came out in {YEAR}, still holds up",
    "flight lands {DATE} {TIME}",
    "Q3 runs {DRANGE}",
    "from {TRANGE}, with a break at noon",
    "timestamp {EPOCH} is sometime in {EPOCHYEAR}, right?",
    "doors open {TIME}, show starts an hour later",
    "the invoice is dated {DATE}, due in 30 days",
    ("Wir treffen uns am {DATE_DE} um {TIME_EU} Uhr", "de"),
    ("Rendez-vous le {DATE_FR} à 1{N1}h30", "fr"),
    ("La reunión es el {DATE_ES} a las {TIME_EU}", "es"),
    ("Abgabe bis {DATE_DE}, bitte nicht vergessen", "de"),
    # prices
    "it's {PRICE_S} on sale",
    "Total: {PRICE} incl. tax",
    "rent went up to {PRICE} a month",
    "budget is {PRICE} for the offsite",
    "{PRICE_S} for a keyboard is insane",
    "shipping was {PRICE_S}, the item was {PRICE}",
    "the new laptop is $1,299.00 before tax",
    ("Der Preis liegt bei {PRICE_EU}", "de"),
    ("ça coûte {PRICE_EU}, c'est trop", "fr"),
    ("el billete cuesta {PRICE_EUS}", "es"),
    # ISBN / barcodes
    "ISBN {ISBN13}, second edition",
    "the library copy is ISBN-10 {ISBN10}",
    "can you order {ISBN13}? paperback pls",
    "the barcode on the box reads {EAN13}",
    # order / tracking numbers (13-19 digits, all failing Luhn)
    "order #{ORDER16} still hasn't shipped",
    "Your order number is {ORDER16G}",
    "tracking: {LONGNUM}",
    "transaction ID {ORDER16} — refund pending",
    "Serial no. {ORDER16G}",
    "ref {ORDER16G} (invoice March)",
    "parcel {LONGNUM} is stuck in customs",
    "the confirmation code is {ORDER16G}, booking for 2 nights",
    "ticket {LONGNUM} was closed by support",
    ("Bestellnummer {ORDER16}", "de"),
    ("Numéro de commande : {ORDER16G}", "fr"),
    ("Número de pedido {ORDER16}", "es"),
    # IBAN look-alikes with a bad checksum
    "the docs use {ZEROIBAN} as a placeholder",
    "validator correctly rejects {BADIBAN} (checksum off)",
    ("assert not is_valid_iban(\"{BADIBAN}\")", "code"),
    "format is like {ZEROIBAN}, with your own digits",
    "copied {BADIBAN} from the mockup, it fails the mod-97 check",
    "IBAN field shows {BADIBAN} in the demo data – invalid on purpose",
    # math
    "{MATH}",
    "{MATH} (checked it twice)",
    "the formula is y = 3x^2 + 2x - 5",
    "if {MATH} then the test passes",
    "3 + 4 = 7, obviously",
    # short numbers
    "meet in room {ROOM}",
    "we're at table {N2}",
    "it's on page {ROOM}",
    "HTTP 404 again on the staging box",
    "listening on port {PORT}",
    "PR #{N4} is ready for review",
    "fixed in issue #{N4}",
    "score was {N1}-{N1B} at halftime",
    "{YRANGE} was a weird era for fashion",
    "reading 1984 again, still great",
    "take bus {ROOM} to the end of the line",
    "gate B{N2}, boarding soon",
    "Platform {N1}, the train is late",
    "error 0x8007{HEX4} when installing",
    "it's the {N2}th floor, lifts are on the left",
    "aisle {N2}, next to the pasta",
    ("Raum {ROOM}, zweiter Stock", "de"),
    ("salle {ROOM} au 3e étage", "fr"),
    ("línea {N1} del metro, la de siempre", "es"),
    # numbers with units
    "ran {KM} this morning",
    "the box weighs {KG}",
    "it's {TEMP} outside",
    "battery at {N2}%",
    "screen is 27\" at {HZ} Hz",
    "the recipe needs {N1}00 g flour and 250 ml milk",
    "only {KM} left to the hut",
    "5 km in 2{N1}:{N2B}, new PB",
    # URLs without credentials
    "{SAFEURL}",
    "check {SAFEURL} for the flow",
    "link: {SAFEURL}",
    "({SAFEURL}) is the page I meant",
    # @-mentions
    "@alice can you take a look?",
    "thanks @dev-team 🙌",
    "@here standup in {N1}",
    "cc @bob.k for visibility",
    "ping @oncall if prod breaks",
    "@channel pizza in the kitchen",
    # email-like text without an address
    "user at home, will check later",
    "meet @ the cafe @ {N1}?",
    "the field wants name@ something, it's broken",
    "type your handle after the @ sign",
    "send it to my work address (you have it)",
    "the at sign is shift+2 on a UK keyboard",
    "replace me@ with your own login",
    # code
    ("result = a @ b  # matmul", "code"),
    "add @property to the getter",
    "use @dataclass(frozen=True) there",
    "@Override is missing on toString()",
    ("npm i -D @types/node@20", "code"),
    "lodash@4.17.21 has the fix",
    "the asset is logo@2x.png",
    "icons/close@3x.png looks blurry",
    ("std::vector<int> v{1, 2, 3};", "code"),
    ("for i in range({N2}): print(i ** 2)", "code"),
    ("SELECT id FROM orders WHERE total > 1299.00;", "code"),
    "git checkout {GIT7} and rebuild",
    "reverted {GIT40}",
    ("color: {HEX}; border-radius: 4px", "code"),
    "use {HEX} for the accent colour",
    "request id {UUID}",
    "the job {UUID} failed twice",
    "a::b::c is just a path in Rust",
    "ratio is 16:9, not 4:3",
    ("chmod 755 deploy.sh", "code"),
    ("x @= W.T  # in-place matmul", "code"),
    "cherry-picked {GIT7} onto release/{SEMVER}",
    # name phrases that are not followed by a name
    "my name is not important, the package is",
    "I'm fine, thanks for asking",
    "I am happy with the draft",
    "call me later, in a meeting",
    "this is great!!",
    "Regards, see you tomorrow",
    "kind regards, and thanks again for the help",
    "i'm not sure tbh",
    "I am so tired today",
    "call me when you land",
    "this is the one I meant",
    "My name is on the guest list already",
    "I'm in Paris until Sunday",
    "I am at the station",
    "this is why we can't have nice things",
    "signed, sealed and delivered 📦",
    "i'm so done with this printer",
    "call me maybe 🎶",
    "warm regards, everyone — see you next week",
    "this is {KM} from the hotel",
    "I'm {N2} minutes late, sorry",
    "I am 100% sure",
    "my name is spelled wrong on the badge again",
    "this is fine 🔥",
    "Call me back after lunch?",
    "THIS IS not a drill",
    "I'm on my way, 10 min",
    "regards, the team",
    "I am not a robot, apparently",
    "this is {PRICE_S} cheaper than last year",
    # street-like phrases without a house number
    "I walked down Baker Street yesterday",
    "the bakery on Hauptstraße closed",
    "traffic on Oxford Street is awful today",
    "we strolled along the rue de Rivoli",
    "shopping on 5th Avenue this weekend",
    "I live {N1} minutes from Baker Street",
    "took the {N2} bus down Main Street",
    "Route 66 road trip next summer?",
    "we're somewhere near Kings Road",
    "{N1} stops past Oxford Circus",
    "the shop is on the corner of Mission Street",
    ("Die Kastanienallee ist gesperrt", "de"),
    ("on se retrouve place de la République ?", "fr"),
    ("Calle Mayor estaba llena de gente", "es"),
    # coordinates, ids, colours, hashes
    "the summit is at {COORD}",
    "dataset centroid: {COORD}",
    "the Eiffel Tower is at 48.8584, 2.2945",
    "commit {GIT7} broke the build",
    "trace {UUID} shows the timeout",
    "palette: {HEX}, {HEX2}, #333",
    "sha1 of the tarball is {GIT40}",
    # several near-misses at once
    "v{SEMVER} shipped {DATE}, fixes #{N4}",
    "build {GIT7} failed at {TIME}",
    "room {ROOM} at {TIME}, bring the {PRICE_S} receipt",
    "ETA {TIME}, {KM} to go",
]


def neg_values(tpl):
    vals = {}
    for key in PH_RE.findall(tpl):
        base = re.sub(r"\d+[A-Z]?$", "", key)
        if key in ("N1", "N1B", "N1C"):
            v = str(R.randint(2, 9))
        elif key in ("N2", "N2B"):
            v = str(R.randint(10, 59))
        elif key == "N4":
            v = str(R.randint(1000, 9999))
        elif base == "SEMVER":
            v = semver()
        elif key == "V4":
            v = "v%d.%d.%d.%d" % (R.randint(1, 9), R.randint(0, 20), R.randint(0, 20), R.randint(0, 300))
        elif base == "WINBUILD":
            v = "10.0.%d.%d" % (R.randint(19041, 22631), R.randint(1000, 4500))
        elif base == "CHROME":
            v = "%d.0.%d.%d" % (R.randint(118, 131), R.randint(6000, 6800), R.randint(10, 250))
        elif base == "OID":
            v = "1.3.6.1.4.1.%d" % R.randint(300, 60000)
        elif key in ("DATE_DE", "DATE_FR", "DATE_ES"):
            v = date_any(key[-2:].lower())
        elif base == "DATE":
            v = date_any()
        elif key == "DRANGE":
            v = "%s through %s" % date_range()
        elif key == "TRANGE":
            v = "%s to %s" % time_range()
        elif key == "TIME_EU":
            v = time_any("de")
        elif base == "TIME":
            v = time_any()
        elif base == "ISO":
            v = "%d-%02d-%02dT%02d:%02d:%02dZ" % (R.randint(2020, 2026), R.randint(1, 12), R.randint(1, 28),
                                                  R.randint(0, 23), R.randint(0, 59), R.randint(0, 59))
        elif base == "YEAR":
            v = str(R.randint(1950, 2025))
        elif key == "EPOCH":
            v = str(R.randint(1500000000, 1790000000))
        elif key == "EPOCHYEAR":
            v = str(datetime.datetime.fromtimestamp(int(vals["EPOCH"]), datetime.timezone.utc).year)
        elif key == "PRICE_S":
            v = price("small")
        elif key == "PRICE_EU":
            v = price("big", "de")
        elif key == "PRICE_EUS":
            v = price("small", "es")
        elif base == "PRICE":
            v = price()
        elif base == "ISBN":
            v = isbn13() if key == "ISBN13" else isbn10()
        elif base == "EAN":
            v = ean13()
        elif base == "ORDER":
            v = order16(key == "ORDER16G")
        elif base == "LONGNUM":
            v = longnum()
        elif base == "BADIBAN":
            v = make_bad_iban()
        elif base == "ZEROIBAN":
            v = make_bad_iban(zero_check=True)
        elif base == "MATH":
            v = math_expr()
        elif base == "ROOM":
            v = str(R.randint(100, 999))
        elif base == "PORT":
            v = str(pick([3000, 5432, 8080, 8443, 6379, 9090, 27017]))
        elif base == "YRANGE":
            a = R.randint(1950, 2010)
            v = "%d-%d" % (a, a + R.randint(3, 30))
        elif base == "KM":
            v = pick(["%d km" % R.randint(2, 42), "%.1f km" % R.uniform(1, 30), "%d miles" % R.randint(2, 26)])
        elif base == "KG":
            v = pick(["%d kg" % R.randint(1, 40), "%.1f kg" % R.uniform(0.5, 25), "%d lbs" % R.randint(2, 80)])
        elif base == "TEMP":
            v = pick(["%d °C" % R.randint(-10, 38), "%d°F" % R.randint(10, 100)])
        elif base == "HZ":
            v = str(pick([60, 75, 120, 144, 165, 240]))
        elif base == "SAFEURL":
            v = pick(SAFE_URLS).replace("{N5}", str(R.randint(10000, 99999))).replace("{N1}", str(R.randint(1, 9)))
        elif base == "UUID":
            v = uuid()
        elif key == "HEX4":
            v = hexs(4).upper()
        elif base == "HEX":
            v = "#" + hexs(pick([6, 6, 3]))
        elif base == "GIT":
            v = hexs(int(key[3:]))
        elif base == "COORD":
            v = coord()
        else:
            raise KeyError(key)
        vals[key] = v
    return vals


# ------------------------------------------------------------------- scanning

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
NUMRUN_RE = re.compile(r"\d+(?:[ -]\d+)*")
IBANISH_RE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){8,32}")
IPV4_RE = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?!\w|\.\d)")
IPV6_RE = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
SECRET_RE = re.compile(r"[?&](?:token|access_token|api_key|key|sig|signature|password|secret|auth)=", re.I)
USERINFO_RE = re.compile(r"://[^\s/:@]+:[^\s/@]+@")
PHRASE_RE = re.compile(r"(?i:\b(?:my name is|i['’]m|i am|call me|this is|signed,|regards,))\s+")
NEG_EMAIL_OK = re.compile(r"@\dx\.png$")


def suspicious(text):
    """Things in ``text`` that look like PII by format; returns a list of (kind, match)."""
    found = []
    for m in EMAIL_RE.finditer(text):
        if not NEG_EMAIL_OK.search(m.group()):
            found.append(("email", m.group()))
    for m in NUMRUN_RE.finditer(text):
        groups = re.split(r"[ -]", m.group())
        for i in range(len(groups)):
            for j in range(i + 1, len(groups) + 1):
                ds = "".join(groups[i:j])
                if 13 <= len(ds) <= 19 and luhn_ok(ds):
                    found.append(("card", " ".join(groups[i:j])))
    for m in IBANISH_RE.finditer(text):
        compact = m.group().replace(" ", "")
        n = IBAN_LEN.get(compact[:2])
        if n and len(compact) >= n and iban_ok(compact[:n]):
            found.append(("iban", compact[:n]))
    for m in IPV4_RE.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
            found.append(("ip", m.group()))
        except ValueError:
            pass
    for m in IPV6_RE.finditer(text):
        try:
            ipaddress.IPv6Address(m.group())
            found.append(("ip", m.group()))
        except ValueError:
            pass
    for rx in (SECRET_RE, USERINFO_RE):
        for m in rx.finditer(text):
            found.append(("secret_url", m.group()))
    for m in PHRASE_RE.finditer(text):
        if m.end() < len(text) and text[m.end()].isupper():
            found.append(("name", text[m.start():m.end() + 12]))
    return found


def masked(text, spans):
    chars = list(text)
    for a, b, _ in spans:
        for i in range(a, b):
            chars[i] = "\x00" if chars[i] != "\n" else "\n"
    return "".join(chars)


def unlabeled_names(text, spans):
    """Name phrases followed by a capitalised word that is not the start of a labeled name."""
    starts = {a for a, _, k in spans if k == "name"}
    bad = []
    for m in PHRASE_RE.finditer(text):
        if m.end() < len(text) and text[m.end()].isupper() and m.end() not in starts:
            bad.append(text[m.start():m.end() + 12])
    return bad


# ------------------------------------------------------------------ validators

PHONE_RE = re.compile(r"\+?[\d(][\d ()./-]*\d")
NAME_WORD_RE = re.compile(r"[^\W\d_][^\W\d_]*", re.U)


def check_item(kind, val, text, start):
    if kind == "card":
        assert re.fullmatch(r"\d+(?:[ -]\d+)*", val), val
        ds = re.sub(r"\D", "", val)
        assert 13 <= len(ds) <= 19 and luhn_ok(ds), val
    elif kind == "iban":
        assert iban_ok(val), val
    elif kind == "ip":
        ipaddress.ip_address(val)
    elif kind == "email":
        assert EMAIL_RE.fullmatch(val), val
    elif kind == "secret_url":
        assert re.match(r"[a-z]+://\S+$", val) and (SECRET_RE.search(val) or USERINFO_RE.search(val)), val
        assert val[-1] not in ".,;:)>!?", val
    elif kind == "phone":
        assert PHONE_RE.fullmatch(val), val
        assert 7 <= len(re.sub(r"\D", "", val)) <= 15, val
    elif kind == "address":
        assert re.search(r"\d", val) and re.search(r"[A-Za-zÀ-ÿ]{3,}", val), val
    elif kind == "name":
        words = val.split(" ")
        assert 1 <= len(words) <= 3 and all(w[:1].isupper() and NAME_WORD_RE.fullmatch(w) for w in words), val
        before = text[:start].rstrip()
        assert re.search(r"(?i)(my name is|i['’]m|i am|call me|this is|signed,|regards,)$", before), text
        after = text[start + len(val):start + len(val) + 2]
        assert not re.match(r" [A-ZÀ-Þ]", after), text
    else:
        raise AssertionError(kind)


# ------------------------------------------------------------------ generation

def main():
    seen = set()
    positives, negatives = [], []

    def add_pos(tpl, lang):
        for _ in range(20):
            text, spans = make_positive(tpl, lang)
            if text in seen:
                continue
            bad = suspicious(masked(text, spans)) + [("name", s) for s in unlabeled_names(text, spans)]
            if bad:
                raise AssertionError("unlabeled look-alike in positive %r: %r" % (text, bad))
            seen.add(text)
            positives.append((text, spans))
            return True
        return False

    per_kind_single = 52
    for kind in KINDS:
        tpls = POS[kind]
        order = []
        while len(order) < per_kind_single:
            batch = list(tpls)
            R.shuffle(batch)
            order.extend(batch)
        for tpl, lang in order[:per_kind_single]:
            add_pos(tpl, lang)
    combo_order = []
    for _ in range(4):
        batch = list(COMBOS)
        R.shuffle(batch)
        combo_order.extend(batch)
    for tpl, lang in combo_order[:76]:
        add_pos(tpl, lang)

    target_neg = 450
    neg = [t if isinstance(t, tuple) else (t, "en") for t in NEG]
    fixed = [t for t in neg if not PH_RE.search(t[0])]
    param = [t for t in neg if PH_RE.search(t[0])]
    queue = list(fixed)
    while len(queue) < target_neg * 3:
        batch = list(param)
        R.shuffle(batch)
        queue.extend(batch)
    lookalikes = []
    for tpl, lang in queue:
        if len(negatives) >= target_neg:
            break
        vals = neg_values(tpl)
        text = PH_RE.sub(lambda m: vals[m.group(1)], tpl)
        text, _ = decorate(text, [], lang)
        if text in seen or suspicious(text):
            continue
        seen.add(text)
        negatives.append(text)
        for k, v in vals.items():
            if k.startswith(("ORDER", "LONGNUM", "ISBN13", "EAN", "BADIBAN", "ZEROIBAN")):
                lookalikes.append((k, v))

    rows = [{"text": t, "pii": [{"kind": k, "text": t[a:b]} for a, b, k in sorted(sp)]} for t, sp in positives]
    rows += [{"text": t, "pii": []} for t in negatives]
    R.shuffle(rows)

    with open(OUT, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    # ------------------------------------------------------------ verification
    with open(OUT, encoding="utf-8") as fh:
        back = [json.loads(line) for line in fh]
    assert back == rows
    texts = [r["text"] for r in back]
    assert len(texts) == len(set(texts)), "duplicate snippets"
    item_counts = {k: 0 for k in KINDS}
    snippet_counts = {k: 0 for k in KINDS}
    n_pos = n_neg = n_multi = 0
    for row in back:
        text, pii = row["text"], row["pii"]
        assert set(row) == {"text", "pii"}
        if not pii:
            n_neg += 1
            assert not suspicious(text), (text, suspicious(text))
            continue
        n_pos += 1
        spans, cursor = [], 0
        for item in pii:
            assert set(item) == {"kind", "text"} and item["kind"] in KINDS, item
            assert item["text"] and item["text"] in text, (item, text)
            start = text.find(item["text"], cursor)
            assert start >= 0, (item, text)
            spans.append((start, start + len(item["text"]), item["kind"]))
            cursor = start + len(item["text"])
            check_item(item["kind"], item["text"], text, start)
            item_counts[item["kind"]] += 1
        for k in {i["kind"] for i in pii}:
            snippet_counts[k] += 1
        if len({i["kind"] for i in pii}) >= 2:
            n_multi += 1
        assert not suspicious(masked(text, spans)), (text, suspicious(masked(text, spans)))
        assert not unlabeled_names(text, spans), text
    for k, v in lookalikes:
        ds = re.sub(r"[^0-9A-Z]", "", v)
        if k.startswith(("BADIBAN", "ZEROIBAN")):
            assert not iban_ok(ds), v
        else:
            assert 13 <= len(re.sub(r"\D", "", ds)) <= 19 and not luhn_ok(re.sub(r"\D", "", ds)), v
    assert sum(1 for k, _ in lookalikes if k.startswith("ORDER")) >= 20
    assert sum(1 for k, _ in lookalikes if k.endswith("IBAN")) >= 10
    assert n_pos >= 400 and n_neg >= 400, (n_pos, n_neg)
    assert n_multi >= 40, n_multi
    for k in KINDS:
        assert snippet_counts[k] >= 40, (k, snippet_counts[k])
    langs_seen = sum(1 for t in texts if re.search(r"[äöüßéèàçñ¿¡]|\b(Meine|Mon|Mi|Ich|Wir|Je|Tu)\b", t))
    assert langs_seen >= 40, langs_seen

    print("wrote %s" % os.path.relpath(OUT))
    print("lines: %d  positive: %d  negative: %d  multi-kind positives: %d" % (len(back), n_pos, n_neg, n_multi))
    print("%-11s %9s %6s" % ("kind", "snippets", "items"))
    for k in KINDS:
        print("%-11s %9d %6d" % (k, snippet_counts[k], item_counts[k]))
    print("negative look-alikes checked (fail Luhn / mod-97): %d" % len(lookalikes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
