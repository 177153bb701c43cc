//! People's names, found the way a careful reader finds them: after a cue (a greeting, a
//! sign-off, a form's "Name:" field, an honorific, "my name is"), as a known first name followed
//! by a surname, and in scripts without capitals by the name lists alone.
//!
//! The lists (`names/first.txt`, `names/last.txt`, `names/cjk_family.txt`) hold common names of
//! many countries. A cue tells a name from a word: after a strong cue ("my name is", "Name:",
//! "Mr.") a listed name counts even in lower case; after a greeting or sign-off a capitalised
//! word does; without a cue only a listed first name followed by a capitalised surname does, and
//! not when the pair is a famous or fictional name (people talk about Harry Potter without it
//! being anyone's personal data).

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

fn list(text: &'static str) -> HashSet<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

static FIRST: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| list(include_str!("names/first.txt")));
static LAST: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| list(include_str!("names/last.txt")));
static CJK_FAMILY: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| list(include_str!("names/cjk_family.txt")));

/// How much a cue vouches for the words after it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cue {
    /// "my name is", "Name:", "Mr.": a listed name counts even in lower case.
    Strong,
    /// A greeting or thanks: a capitalised word counts.
    Greeting,
    /// A sign-off ending its line: the next line, if short, is a name.
    SignOff,
}

/// Self-introductions, form fields and honorifics, in the languages the lists cover.
static STRONG_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:\b(?:my name is|my name['’]s|my names is|name is|call me|i am|i['’]m|this is|signed|ich heiße|ich heisse|mein name ist|ich bin|mijn naam is|ik heet|ik ben|me llamo|mi nombre es|soy|je m'appelle|je suis|mon nom est|mi chiamo|il mio nome è|sono|meu nome é|me chamo|eu sou|sou|меня зовут|моё имя|мое имя|от имени|namens|on behalf of|im auftrag von|de parte de|de la part de|colleague|coworker|co-worker|neighbour|neighbor|wife|husband|son|daughter|brother|sister|mother|father|kollege|kollegin|nachbar|nachbarin|collega|buurman|buurvrouw|compañero|compañera|vecino|vecina|collègue|voisin|voisine|vicino|vicina|colega|vizinho|vizinha|коллега|сосед|соседка|подруга|customer|kunde|kundin|klant|cliente|клиент|contact|ansprechpartner|contactpersoon|contacto|user\.name|author|autor|auteur)\b[ \t]*[,:=]?\s*[\x22']?|\b(?:name|full name|first name|last name|surname|vorname|nachname|vor- und nachname|naam|volledige naam|voornaam|achternaam|nombre|nombre completo|apellidos?|nom|nom complet|prénom|nome|nome completo|nome e cognome|cognome|имя|фио|фамилия|client|customer name|from|von|van|de|от)[ \t]*[:：][ \t]*|\b(?:mrs?|ms|dr|mx|prof|hr|fr|dhr|mevr|sra?|srta|mme|mlle|sig|sig\.ra|dott|г-н|г-жа)\.?[ \t]+|\bm\.[ \t]+|\b(?:herr|frau|heer|mevrouw|meneer|señor|señora|monsieur|madame|signor|signora|senhor|senhora|господин|госпожа|miss|mister)[ \t]+)",
    )
    .expect("a valid built-in pattern")
});

/// Greetings and thanks that precede a name.
static GREETING_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:hi|hello|hey|dear|dearest|morning|good morning|thanks|thank you|thx|ty|hallo|hi|liebe|lieber|moin|servus|guten tag|danke|hoi|beste|dag|goedemorgen|bedankt|dank je|hola|estimado|estimada|querido|querida|buenas|buenos días|gracias|bonjour|salut|cher|chère|coucou|merci|ciao|caro|cara|gentile|gentilissimo|gentilissima|buongiorno|salve|grazie|olá|ola|oi|prezado|prezada|bom dia|boa tarde|obrigado|obrigada|valeu|привет|здравствуйте|добрый день|доброе утро|уважаемый|уважаемая|дорогой|дорогая|спасибо|regards|best regards|kind regards|cheers|sincerely|saludos|un saludo|groetjes|groeten|grüße|gruß|cordialement|amicalement|saluti|abraços|abraço|atenciosamente|с уважением)\b[ \t]*[,!]?[ \t]*",
    )
    .expect("a valid built-in pattern")
});

/// Sign-offs that stand on a line of their own, the name on the next.
static SIGN_OFF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?im)^[ \t]*(?:best regards|kind regards|warm regards|regards|best wishes|best|cheers|thanks|thank you|many thanks|sincerely|yours sincerely|yours truly|yours|all the best|take care|mit freundlichen grüßen|mit freundlichen grüssen|freundliche grüße|viele grüße|beste grüße|liebe grüße|herzliche grüße|schöne grüße|gruß|grüße|lg|vg|mfg|met vriendelijke groet|vriendelijke groet(?:en)?|hartelijke groet(?:en)?|groetjes|groeten|groet|mvg|saludos|un saludo|saludos cordiales|atentamente|un abrazo|cordialmente|cordialement|bien cordialement|bien à vous|bien à toi|bonne journée|amicalement|bises|cordiali saluti|distinti saluti|un saluto|saluti|a presto|atenciosamente|abraços|abraço|cumprimentos|com os melhores cumprimentos|obrigado|obrigada|с уважением|спасибо|с наилучшими пожеланиями|всего доброго|всего хорошего|с теплом|—)[ \t]*[,.!]?[ \t]*(?:\r?\n|[ \t]+)",
    )
    .expect("a valid built-in pattern")
});

/// Cues in scripts without capitals (Arabic, Devanagari): the listed name after them counts.
static UNCASED_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:اسمي|الاسم الكامل|الاسم|العميل|عزيزي|عزيزتي|مرحباً|مرحبا|أهلاً|أهلا|السلام عليكم|شكراً يا|شكرا يا|شكراً|شكرا|مع تحياتي|مع خالص التحية|تحياتي|باسم|मेरा नाम|पूरा नाम|नाम|ग्राहक|प्रिय|नमस्ते|हाय|धन्यवाद|सादर|शुभकामनाओं सहित)[ \t]*[:،,!]?[ \t\r\n]*",
    )
    .expect("a valid built-in pattern")
});

/// Cues before a name in Chinese and Japanese text.
static CJK_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:此致[ \t\r\n]*敬礼|我叫|我是|叫做|姓名|联系人|收件人|收货人|客户|顧客|氏名|お名前|名前|担当は|担当者|担当|谢谢|感谢|亲爱的|尊敬的|私は|此致|祝好|よろしくお願いいたします。|よろしくお願いします。|以上)[ \t]*[：:，,！!。]?[ \t\r\n]*",
    )
    .expect("a valid built-in pattern")
});

/// Honorifics and phrases after a name in Chinese and Japanese text, the family and given
/// name possibly apart ("田中 美咲 様", as address labels print them).
static CJK_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\p{Han}{1,3}[ \u{3000}][\p{Han}\p{Hiragana}\p{Katakana}]{1,4}|[\p{Han}\p{Hiragana}\p{Katakana}]{2,8}?)[ \u{3000}]?(?:先生|女士|小姐|老师|你好|您好|さん|様|さま|君|くん|ちゃん|殿|と申します)")
        .expect("a valid built-in pattern")
});

/// A Japanese business introduction: a company or department, "の", the writer's name and
/// "です" ("株式会社サクラ企画の山本翔太です", "営業部の田中です").
static CJK_INTRODUCTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:会社|社|部|課|室|班|チーム|事務所|センター|支店|店|企画|商事|銀行|大学|病院|工業|製作所)の(\p{Han}{1,5})(?:です|でございます)")
        .expect("a valid built-in pattern")
});

/// A greeting, then the words that introduce the writer on the phone or in a chat:
/// "Salut, c'est Manon", "Hi, it's Sarah", "Hallo, hier ist Jonas".
static GREETING_INTRODUCTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:hi|hey|hello|hallo|moin|hoi|salut|coucou|bonjour|hola|ciao|oi|olá)\b[ \t]*[,!]?[ \t]*(?:c['’]est|it['’]s|it is|hier ist|hier is|met|ici|aquí)[ \t]+")
        .expect("a valid built-in pattern")
});

/// Capitalised words that are not names after a cue ("Hi team", "Dear Customer", "Thanks Again").
const NOT_NAMES: &[&str] = &[
    "i",
    "a",
    "an",
    "the",
    "not",
    "sure",
    "so",
    "very",
    "just",
    "it",
    "that",
    "this",
    "what",
    "here",
    "there",
    "fine",
    "good",
    "great",
    "ok",
    "okay",
    "happy",
    "sorry",
    "glad",
    "back",
    "done",
    "ready",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "english",
    "german",
    "french",
    "spanish",
    "american",
    "british",
    "canadian",
    "australian",
    "indian",
    "chinese",
    "japanese",
    "italian",
    "dutch",
    "going",
    "looking",
    "trying",
    "working",
    "writing",
    "using",
    "also",
    "still",
    "new",
    "all",
    "your",
    "my",
    "our",
    "we",
    "you",
    "he",
    "she",
    "they",
    "and",
    "but",
    "or",
    "if",
    "in",
    "on",
    "at",
    "for",
    "to",
    "from",
    "with",
    "thank",
    "thanks",
    "hi",
    "hello",
    "hey",
    "dear",
    "yes",
    "no",
    "python",
    "rust",
    "java",
    "javascript",
    "linux",
    "windows",
    "google",
    "microsoft",
    "apple",
    "amazon",
    "everyone",
    "everybody",
    "team",
    "bye",
    "why",
    "how",
    "when",
    "where",
    "who",
    "which",
    "because",
    "please",
    "actually",
    "really",
    "maybe",
    "probably",
    "definitely",
    "again",
    "guys",
    "folks",
    "friends",
    "all",
    "sir",
    "madam",
    "customer",
    "customers",
    "client",
    "clients",
    "user",
    "users",
    "support",
    "service",
    "services",
    "sales",
    "admin",
    "staff",
    "the",
    "his",
    "her",
    "their",
    "mine",
    "yours",
    "ich",
    "du",
    "sie",
    "wir",
    "ihr",
    "es",
    "der",
    "die",
    "das",
    "den",
    "dem",
    "ein",
    "eine",
    "zusammen",
    "allerseits",
    "alle",
    "damen",
    "herren",
    "kunde",
    "kundin",
    "kundenservice",
    "kundendienst",
    "team",
    "ik",
    "jij",
    "wij",
    "het",
    "een",
    "allemaal",
    "iedereen",
    "klantenservice",
    "klant",
    "yo",
    "tú",
    "el",
    "la",
    "los",
    "las",
    "un",
    "una",
    "todos",
    "todas",
    "equipo",
    "cliente",
    "clientes",
    "je",
    "tu",
    "il",
    "elle",
    "nous",
    "vous",
    "le",
    "les",
    "une",
    "tous",
    "toutes",
    "équipe",
    "service",
    "io",
    "lui",
    "lei",
    "noi",
    "voi",
    "loro",
    "gli",
    "uno",
    "tutti",
    "tutte",
    "servizio",
    "eu",
    "ele",
    "ela",
    "nós",
    "vocês",
    "os",
    "as",
    "um",
    "uma",
    "equipe",
    "suporte",
    "atendimento",
    "я",
    "ты",
    "мы",
    "вы",
    "они",
    "всем",
    "все",
    "служба",
    "команда",
    "клиент",
    "поддержка",
    "hr",
    "it",
    "ceo",
    "cto",
    "dev",
    "bot",
    "ai",
    "chatgpt",
    "assistant",
    "there",
    "world",
    "mom",
    "dad",
    "mum",
    "boss",
    "buddy",
    "man",
    "dude",
    "mate",
    "bro",
    "babe",
    "honey",
    "love",
    "darling",
    "sweetie",
    "siri",
    "alexa",
    "cortana",
    "bixby",
    "copilot",
    "gemini",
    "hiring",
    "recruiter",
    "recruiting",
    "recruitment",
    "applicant",
    "candidate",
    "ladies",
    "gentlemen",
    "colleagues",
    "kollegen",
    "kolleginnen",
    "collega's",
    "compañeros",
    "collègues",
    "colleghi",
    "colegas",
    "коллеги",
    "друзья",
    "amigos",
    "amis",
    "amici",
    "freunde",
    "vrienden",
    "morning",
    "afternoon",
    "evening",
    "day",
    "night",
    "week",
    "soon",
    "later",
    "again",
    "advance",
    "now",
    "hope",
    "hoping",
    "will",
    "can",
    "could",
    "would",
    "should",
    "shall",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "do",
    "does",
    "did",
    "have",
    "has",
    "had",
    "get",
    "got",
    "let",
    "make",
    "made",
    "one",
    "two",
    "three",
    "first",
    "last",
    "next",
    "other",
    "some",
    "any",
    "each",
    "every",
    "many",
    "much",
    "more",
    "most",
    "such",
    "only",
    "own",
    "same",
    "than",
    "too",
    "then",
    "once",
    "about",
    "after",
    "before",
    "over",
    "under",
    "into",
    "out",
    "up",
    "down",
    "off",
    "again",
    "further",
    "best",
    "kind",
    "warm",
    "regards",
    "wishes",
    "cheers",
    "sincerely",
    "yours",
    "truly",
    "take",
    "care",
    "order",
    "invoice",
    "ticket",
    "account",
    "password",
    "email",
    "mail",
    "phone",
    "address",
    "company",
    "project",
    "manager",
    "engineer",
    "senior",
    "head",
    "lead",
    "director",
    "office",
    "department",
    "inc",
    "ltd",
    "gmbh",
    "llc",
    "corp",
    "bv",
    "sa",
    "ag",
    "version",
    "build",
    "release",
    "update",
    "error",
    "issue",
    "bug",
    "fix",
    "test",
    "tests",
    "code",
    "file",
    "files",
    "data",
    "api",
    "server",
    "client",
    "app",
    "web",
    "site",
    "page",
    "link",
    "url",
    "help",
    "info",
    "question",
    "problem",
    "request",
    "response",
    "reply",
    "message",
    "note",
    "notes",
    "todo",
    "read",
    "write",
    "check",
    "see",
    "look",
    "find",
    "use",
    "try",
    "call",
    "send",
    "sent",
    "give",
    "keep",
    "tell",
    "ask",
    "work",
    "need",
    "want",
    "like",
    "know",
    "think",
    "say",
    "said",
    "come",
    "go",
    "went",
    "was",
    "new",
    "old",
    "big",
    "small",
    "long",
    "short",
    "high",
    "low",
    "right",
    "left",
    "wrong",
    "true",
    "false",
    "null",
    "none",
    "yes",
    "no",
    "okay",
    "de",
    "van",
    "von",
    "da",
    "di",
    "del",
    "und",
    "oder",
    "aber",
    "für",
    "mit",
    "bei",
    "auf",
    "aus",
    "nach",
    "zu",
    "im",
    "am",
    "um",
    "en",
    "y",
    "o",
    "pero",
    "con",
    "sin",
    "por",
    "para",
    "et",
    "ou",
    "mais",
    "pour",
    "avec",
    "sans",
    "par",
    "e",
    "ma",
    "per",
    "senza",
    "mas",
    "sem",
    "и",
    "или",
    "но",
    "для",
    "с",
    "без",
    "по",
    "в",
    "на",
    "über",
    "wie",
    "was",
    "wer",
    "wo",
    "wann",
    "warum",
    "hier",
    "dort",
    "heute",
    "morgen",
    "gestern",
    "nicht",
    "noch",
    "schon",
    "nur",
    "auch",
    "sehr",
    "gut",
    "ja",
    "nein",
    "bitte",
    "danke",
    "geachte",
    "heer",
    "mevrouw",
    "sehr",
    "geehrte",
    "geehrter",
    "estimado",
    "estimada",
    "cher",
    "chère",
    "gentile",
    "prezado",
    "prezada",
    "уважаемый",
    "уважаемая",
    "anbei",
    "attached",
    "please",
    "pls",
    "plz",
    "können",
    "kannst",
    "kunnen",
    "kun",
    "puedes",
    "peux",
    "puoi",
    "podes",
    "você",
    "vous",
    "ci-joint",
    "in",
    "bijlage",
    "adjunto",
    "allegato",
    "segue",
    "во",
    "вложении",
    "calle",
    "rue",
    "via",
    "rua",
    "avenida",
    "avenue",
    "plaza",
    "piazza",
    "street",
    "road",
    "straße",
    "strasse",
    "platz",
    "laan",
    "straat",
    "plein",
    "corso",
    "viale",
    "grüße",
    "grüsse",
    "gruß",
    "wünsche",
    "welt",
    "world",
    "kollegen",
    "leute",
    "freunde",
];

/// Famous, fictional and public names that are not personal data unless a person gives them for
/// themselves or is addressed by them.
const FAMOUS: &[&str] = &[
    "harry potter",
    "hermione granger",
    "ron weasley",
    "albus dumbledore",
    "lord voldemort",
    "sherlock holmes",
    "john watson",
    "frodo baggins",
    "bilbo baggins",
    "darth vader",
    "luke skywalker",
    "han solo",
    "bruce wayne",
    "clark kent",
    "peter parker",
    "tony stark",
    "james bond",
    "mickey mouse",
    "donald duck",
    "homer simpson",
    "bart simpson",
    "don quijote",
    "don quixote",
    "romeo montague",
    "juliet capulet",
    "hamlet",
    "albert einstein",
    "isaac newton",
    "marie curie",
    "charles darwin",
    "nikola tesla",
    "ada lovelace",
    "alan turing",
    "galileo galilei",
    "leonardo da vinci",
    "william shakespeare",
    "jane austen",
    "charles dickens",
    "mark twain",
    "ernest hemingway",
    "leo tolstoy",
    "fyodor dostoevsky",
    "victor hugo",
    "miguel de cervantes",
    "johann wolfgang von goethe",
    "napoleon bonaparte",
    "julius caesar",
    "abraham lincoln",
    "george washington",
    "winston churchill",
    "mahatma gandhi",
    "nelson mandela",
    "martin luther king",
    "barack obama",
    "donald trump",
    "joe biden",
    "angela merkel",
    "olaf scholz",
    "emmanuel macron",
    "vladimir putin",
    "xi jinping",
    "narendra modi",
    "elon musk",
    "bill gates",
    "steve jobs",
    "mark zuckerberg",
    "jeff bezos",
    "taylor swift",
    "lionel messi",
    "cristiano ronaldo",
    "lewis hamilton",
    "michael jordan",
    "serena williams",
    "roger federer",
    "rafael nadal",
    "michael jackson",
    "elvis presley",
    "freddie mercury",
    "john lennon",
    "paul mccartney",
    "marilyn monroe",
    "queen elizabeth",
    "king charles",
    "pope francis",
    "wolfgang amadeus mozart",
    "ludwig van beethoven",
    "johann sebastian bach",
    "pablo picasso",
    "vincent van gogh",
    "frida kahlo",
    "karl marx",
    "sigmund freud",
    "jesus christ",
    // Politicians and public officials.
    "kamala harris",
    "hillary clinton",
    "bill clinton",
    "george bush",
    "george w. bush",
    "ronald reagan",
    "john f. kennedy",
    "franklin roosevelt",
    "theodore roosevelt",
    "margaret thatcher",
    "tony blair",
    "boris johnson",
    "rishi sunak",
    "keir starmer",
    "theresa may",
    "justin trudeau",
    "giorgia meloni",
    "pedro sánchez",
    "ursula von der leyen",
    "helmut kohl",
    "gerhard schröder",
    "volodymyr zelensky",
    "jacinda ardern",
    "charles de gaulle",
    "nicolas sarkozy",
    "françois hollande",
    "mark rutte",
    "silvio berlusconi",
    "lula da silva",
    "fidel castro",
    "che guevara",
    "mao zedong",
    "kim jong un",
    // Athletes.
    "stephen curry",
    "lebron james",
    "kobe bryant",
    "tom brady",
    "tiger woods",
    "usain bolt",
    "simone biles",
    "novak djokovic",
    "andy murray",
    "max verstappen",
    "michael schumacher",
    "ayrton senna",
    "kylian mbappé",
    "erling haaland",
    "neymar jr",
    "diego maradona",
    "zinedine zidane",
    "david beckham",
    "wayne rooney",
    "harry kane",
    "mohamed salah",
    "robert lewandowski",
    "virat kohli",
    "sachin tendulkar",
    "muhammad ali",
    "mike tyson",
    // Writers, artists, musicians, actors.
    "gabriel garcía márquez",
    "gabriel garcia marquez",
    "isabel allende",
    "jorge luis borges",
    "pablo neruda",
    "mario vargas llosa",
    "paulo coelho",
    "umberto eco",
    "thomas mann",
    "franz kafka",
    "hermann hesse",
    "george orwell",
    "virginia woolf",
    "agatha christie",
    "stephen king",
    "j. k. rowling",
    "jk rowling",
    "john tolkien",
    "haruki murakami",
    "anton chekhov",
    "alexander pushkin",
    "leonardo dicaprio",
    "tom hanks",
    "tom cruise",
    "brad pitt",
    "angelina jolie",
    "meryl streep",
    "scarlett johansson",
    "keanu reeves",
    "morgan freeman",
    "will smith",
    "jennifer lopez",
    "jennifer aniston",
    "beyoncé knowles",
    "billie eilish",
    "ed sheeran",
    "lady gaga",
    "bob dylan",
    "david bowie",
    "frank sinatra",
    "claude monet",
    "salvador dalí",
    "andy warhol",
    "steven spielberg",
    "quentin tarantino",
    "christopher nolan",
    "stanley kubrick",
    "alfred hitchcock",
    "charlie chaplin",
    "walt disney",
    // Scientists and business people.
    "stephen hawking",
    "carl sagan",
    "richard feynman",
    "niels bohr",
    "max planck",
    "linus torvalds",
    "guido van rossum",
    "tim berners-lee",
    "sam altman",
    "satya nadella",
    "sundar pichai",
    "tim cook",
    "warren buffett",
    "jack ma",
    "larry page",
    "sergey brin",
    "steve wozniak",
    "henry ford",
    // Fictional characters.
    "walter white",
    "jesse pinkman",
    "saul goodman",
    "tony soprano",
    "jon snow",
    "daenerys targaryen",
    "tyrion lannister",
    "arya stark",
    "ned stark",
    "sansa stark",
    "michael scott",
    "dwight schrute",
    "ross geller",
    "rachel green",
    "monica geller",
    "chandler bing",
    "joey tribbiani",
    "phoebe buffay",
    "sheldon cooper",
    "homer simpson",
    "marge simpson",
    "lisa simpson",
    "indiana jones",
    "forrest gump",
    "jack sparrow",
    "captain america",
    "wonder woman",
    "diana prince",
    "lara croft",
    "mario bros",
    "elizabeth bennet",
    "jane eyre",
    "anna karenina",
    "наташа ростова",
    "анна каренина",
    "родион раскольников",
    "евгений онегин",
    "emma bovary",
    "jean valjean",
    "atticus finch",
    "holden caulfield",
    "jay gatsby",
    "katniss everdeen",
    "bella swan",
    "edward cullen",
    // Brands and products named after people.
    "tim hortons",
    "tommy hilfiger",
    "calvin klein",
    "ralph lauren",
    "hugo boss",
    "jack daniels",
    "jack daniel's",
    "johnnie walker",
    "jack wolfskin",
    "louis vuitton",
    "christian dior",
    "giorgio armani",
    "kate spade",
    "michael kors",
    "marc jacobs",
    "victoria beckham",
    "martha stewart",
    "ben sherman",
    "fred perry",
    "ted baker",
    "jimmy choo",
    "estée lauder",
    "paul smith",
    "carl zeiss",
    "robert bosch",
    "ferdinand porsche",
];

/// Words that name a place or an institution: after a listed first name they make a place
/// ("Victoria Station", "Florence Airport"), not a person.
const PLACE_NOUNS: &[&str] = &[
    "station",
    "airport",
    "beach",
    "lake",
    "river",
    "falls",
    "hotel",
    "hospital",
    "clinic",
    "university",
    "college",
    "school",
    "academy",
    "museum",
    "gallery",
    "cathedral",
    "stadium",
    "arena",
    "theatre",
    "theater",
    "center",
    "centre",
    "market",
    "mall",
    "bay",
    "island",
    "islands",
    "valley",
    "mountains",
    "heights",
    "county",
    "city",
    "airlines",
    "airways",
    "foundation",
    "institute",
    "library",
    "gardens",
    "palace",
    "castle",
    "tower",
    "square",
    "bridge",
    "street",
    "road",
    "avenue",
    "boulevard",
    "lane",
    "drive",
    "terrace",
    "harbour",
    "harbor",
    "port",
    "peninsula",
    "memorial",
    "monument",
    "prize",
    "award",
    "awards",
    "cup",
    "trophy",
    "gare",
    "bahnhof",
    "hbf",
    "flughafen",
    "centraal",
    "centrale",
    "estación",
    "aeropuerto",
    "aéroport",
    "stazione",
    "aeroporto",
    "plage",
    "strand",
    "playa",
    "spiaggia",
    "praia",
];

/// Weekdays and months cut short ("Tue Mar 4" in a log line is a date, though "Tue" and "Mar"
/// are listed names); written out, they are stop words already.
const CALENDAR_ABBREVIATIONS: &[&str] = &[
    "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mo", "di", "mi", "do", "fr",
    "sa", "so", "mär", "mai", "okt", "dez", "lun", "mer", "jeu", "ven", "sam", "dim",
];

/// Whether a capitalised pair is a date ("Tue Mar 4", "Wed Jan 12"): both words are
/// weekday or month names, or the second is one and a day number follows it.
fn calendar_pair(first: &str, last: &str, after: &str) -> bool {
    let calendar =
        |w: &str| CALENDAR_ABBREVIATIONS.contains(&w.to_lowercase().trim_end_matches('.'));
    let day_follows = after
        .trim_start_matches([' ', '.', ','])
        .starts_with(|c: char| c.is_ascii_digit());
    calendar(first) && calendar(last) || calendar(last) && day_follows
}

/// Whether a famous name starts at `start`: the pair itself, or the pair and up to two more
/// words ("Gabriel García" of "Gabriel García Márquez").
fn famous_at(text: &str, start: usize, pair_end: usize) -> bool {
    let mut end = pair_end;
    for _ in 0..3 {
        if FAMOUS.contains(&text[start..end].to_lowercase().as_str()) {
            return true;
        }
        let rest = &text[end..];
        let Some(next) = rest.strip_prefix(' ') else {
            return false;
        };
        let len = next
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '\'' | '’' | '-' | '.')))
            .unwrap_or(next.len());
        if len == 0 {
            return false;
        }
        end += 1 + len;
    }
    false
}

/// Every name in `text`, as byte ranges.
pub fn find(text: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for m in STRONG_CUE.find_iter(text) {
        found.extend(name_at(text, m.end(), Cue::Strong));
    }
    for m in GREETING_CUE.find_iter(text) {
        found.extend(name_at(text, m.end(), Cue::Greeting));
    }
    for m in SIGN_OFF.find_iter(text) {
        found.extend(name_at(text, m.end(), Cue::SignOff));
    }
    for m in UNCASED_CUE.find_iter(text) {
        let strong = [
            "اسمي",
            "الاسم",
            "العميل",
            "باسم",
            "मेरा नाम",
            "पूरा नाम",
            "नाम",
            "ग्राहक",
        ]
        .iter()
        .any(|c| m.as_str().starts_with(c));
        let cue = if strong { Cue::Strong } else { Cue::Greeting };
        found.extend(name_at(text, m.end(), cue));
    }
    for m in CJK_CUE.find_iter(text) {
        found.extend(name_at(text, m.end(), Cue::Strong));
    }
    for m in GREETING_INTRODUCTION.find_iter(text) {
        found.extend(name_at(text, m.end(), Cue::Greeting));
    }
    for m in CJK_SUFFIX.find_iter(text) {
        found.extend(cjk_name_before(text, m.start(), m.end()));
    }
    for c in CJK_INTRODUCTION.captures_iter(text) {
        let name = c.get(1).expect("the name group");
        let family = family_len(name.as_str());
        let given = name.as_str().chars().count() - family.unwrap_or(0);
        if family.is_some_and(|f| given >= 1 || f >= 2) {
            found.push((name.start(), name.end()));
        }
    }
    found.extend(listed_pairs(text));
    crate::patterns::merge_overlapping(found)
}

/// A word of a name in a cased script: its byte range, and whether it is capitalised.
fn word_at(text: &str, at: usize) -> Option<(usize, bool)> {
    let rest = &text[at..];
    let mut chars = rest.char_indices();
    let (_, first) = chars.next()?;
    if !first.is_alphabetic() || !has_case(first) {
        return None;
    }
    let mut end = first.len_utf8();
    for (i, c) in chars {
        if c.is_alphabetic() || c == '\'' || c == '’' || c == '-' && !rest[i + 1..].starts_with('-')
        {
            end = i + c.len_utf8();
        } else {
            break;
        }
    }
    let word = rest[..end].trim_end_matches(['-', '\'', '’']);
    Some((word.len(), first.is_uppercase()))
}

fn has_case(c: char) -> bool {
    c.is_uppercase() || c.is_lowercase() && c.to_uppercase().next() != Some(c)
}

fn listed(word: &str) -> bool {
    let lower = word.to_lowercase();
    FIRST.contains(lower.as_str()) || LAST.contains(lower.as_str())
}

fn stop_word(word: &str) -> bool {
    let lower = word.to_lowercase();
    NOT_NAMES.contains(&lower.as_str())
}

/// Particles inside names ("Ludwig van Beethoven", "Maria da Silva").
const PARTICLES: &[&str] = &[
    "van", "von", "de", "der", "den", "da", "das", "do", "dos", "del", "della", "di", "du", "la",
    "le", "ter", "ten", "al", "el", "bin", "ibn", "y", "e",
];

/// The name that starts at `at` after a cue, if one does.
fn name_at(text: &str, at: usize, cue: Cue) -> Option<(usize, usize)> {
    let mut at = at;
    if cue == Cue::SignOff {
        // The sign-off's line ends; the name line, after at most one blank line, must be
        // short and only the name.
        let blank = text[at..].trim_start_matches([' ', '\t', '\r']);
        if let Some(rest) = blank.strip_prefix('\n') {
            at = text.len() - rest.len();
        }
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let line = text[at..line_end].trim();
        if line.is_empty() || line.split_whitespace().count() > 4 {
            return None;
        }
        at += text[at..].len() - text[at..].trim_start().len();
    }
    let next = text[at..].chars().next()?;
    if is_cjk(next) {
        return cjk_name_at(text, at);
    }
    if next.is_alphabetic() && !has_case(next) {
        return uncased_name_at(text, at, cue == Cue::Strong);
    }
    let (len, capitalised) = word_at(text, at)?;
    let first = &text[at..at + len];
    if first.chars().count() < 2 {
        return None;
    }
    if stop_word(first) {
        // "Ich bin Can Kurt", "I'm Will Smith": a first name that is also a common word
        // counts after a self-introduction when a capitalised listed name follows it.
        let surname = text[at + len..]
            .strip_prefix(' ')
            .and_then(|_| word_at(text, at + len + 1))
            .map(|(l, cap)| (&text[at + len + 1..at + len + 1 + l], cap));
        let introduced = cue == Cue::Strong
            && capitalised
            && FIRST.contains(first.to_lowercase().as_str())
            && surname.is_some_and(|(w, cap)| cap && listed(w) && !stop_word(w));
        if !introduced {
            return None;
        }
    }
    let lower_case_ok = cue == Cue::Strong && listed(first);
    if !(capitalised || lower_case_ok) {
        return None;
    }
    if capitalised && !looks_like_name(first) {
        return None;
    }
    let mut end = at + len;
    let mut words = 1;
    while words < 4 {
        let rest = &text[end..];
        let gap = if rest.starts_with(' ') { 1 } else { break };
        let next = end + gap;
        let Some((len, cap)) = word_at(text, next) else {
            break;
        };
        let word = &text[next..next + len];
        let lower = word.to_lowercase();
        if PARTICLES.contains(&lower.as_str()) {
            // A particle counts only when a capitalised word follows it.
            let after = next + len;
            if text[after..].starts_with(' ')
                && word_at(text, after + 1).is_some_and(|(_, c)| c)
                && !stop_word(&text[after + 1..after + 1 + word_at(text, after + 1)?.0])
            {
                end = after;
                continue;
            }
            break;
        }
        let fits = if capitalised {
            cap && !stop_word(word)
        } else {
            !cap && listed(word) && !stop_word(word)
        };
        if !fits {
            break;
        }
        end = next + len;
        words += 1;
    }
    Some((at, end))
}

/// Whether a capitalised word not in the lists could still be a name: letters only, not all
/// capitals (an acronym), two letters at least.
fn looks_like_name(word: &str) -> bool {
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    letters >= 2 && word.chars().skip(1).any(char::is_lowercase)
}

/// Words that follow Arabic and Hindi greetings and sign-offs without being names.
const UNCASED_NOT_NAMES: &[&str] = &[
    "بالجميع",
    "الجميع",
    "جميعا",
    "جميعاً",
    "فريق",
    "لك",
    "لكم",
    "جزيلا",
    "جزيلاً",
    "على",
    "في",
    "من",
    "إلى",
    "الى",
    "يا",
    "هل",
    "تم",
    "عن",
    "مع",
    "أنا",
    "انا",
    "نحن",
    "هذا",
    "هذه",
    "شكرا",
    "الدعم",
    "خدمة",
    "العملاء",
    "सभी",
    "टीम",
    "सपोर्ट",
    "आप",
    "आपका",
    "मैं",
    "हम",
    "को",
    "का",
    "की",
    "के",
    "है",
    "और",
    "में",
    "से",
    "पर",
    "जी",
];

/// A name after a cue in Arabic or Devanagari script: one or two words. Listed names always
/// count; so do unlisted words after a strong cue (a form field, "my name is"), or when a comma
/// or the line's end closes them right after a greeting or sign-off; common words never do.
fn uncased_name_at(text: &str, at: usize, strong: bool) -> Option<(usize, usize)> {
    let word = |from: usize| -> Option<usize> {
        let rest = text.get(from..)?;
        let len = rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphabetic() || is_mark(*c)))
            .map_or(rest.len(), |(i, _)| i);
        let word = &rest[..len];
        let uncased = !word.is_empty()
            && !rest.starts_with(|c: char| c.is_ascii() || has_case(c) || is_cjk(c));
        (uncased && !UNCASED_NOT_NAMES.contains(&word)).then_some(len)
    };
    let closes = |from: usize| {
        let rest = text[from..].trim_start_matches([' ', '\t']);
        rest.is_empty() || rest.starts_with(['،', ',', '\n', '\r', '!', '؟', ':', '.'])
    };
    let len = word(at)?;
    let first = &text[at..at + len];
    let one = at + len;
    let two = text[one..]
        .starts_with(' ')
        .then(|| word(one + 1).map(|l| one + 1 + l))
        .flatten();
    let second_is_name = two.is_some_and(|end| {
        let second = &text[one + 1..end];
        listed(second) || second.starts_with("ال") && second.chars().count() > 3 || closes(end)
    });
    let end = match two {
        Some(end) if second_is_name => end,
        _ => one,
    };
    (listed(first) || strong || closes(end)).then_some((at, end))
}

fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{064B}'..='\u{065F}' | '\u{0900}'..='\u{0903}' | '\u{093A}'..='\u{094F}' | '\u{0962}'..='\u{0963}')
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{3040}'..='\u{30FF}' | '々')
}

/// The first `n` characters of `text`, if it has that many.
fn first_chars(text: &str, n: usize) -> Option<&str> {
    match text.char_indices().nth(n) {
        Some((i, _)) => Some(&text[..i]),
        None => (text.chars().count() == n).then_some(text),
    }
}

/// How many characters of the listed family name `name` starts with (the longest of three,
/// two or one).
fn family_len(name: &str) -> Option<usize> {
    (1..=3)
        .rev()
        .find(|n| first_chars(name, *n).is_some_and(|f| CJK_FAMILY.contains(f)))
}

/// A Chinese or Japanese name right after a cue: a listed family name and up to two (three
/// after a two-character family name) more characters.
fn cjk_name_at(text: &str, at: usize) -> Option<(usize, usize)> {
    let run_len: usize = text[at..]
        .chars()
        .take_while(|c| is_cjk(*c))
        .take(5)
        .map(char::len_utf8)
        .sum();
    let run = &text[at..at + run_len];
    let family = family_len(run)?;
    let chars = run.chars().count();
    if chars <= family {
        return None;
    }
    let given = (chars - family).min(if family == 1 { 2 } else { 3 });
    let name = first_chars(run, family + given)?;
    Some((at, at + name.len()))
}

/// A Chinese or Japanese name just before an honorific ("张伟先生", "田中太郎様", "吉田さん"):
/// the longest run of at most six characters before it (a space between family and given name
/// included) that starts with a listed family name.
fn cjk_name_before(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let suffixes = [
        "と申します",
        "先生",
        "女士",
        "小姐",
        "老师",
        "你好",
        "您好",
        "さん",
        "さま",
        "くん",
        "ちゃん",
        "様",
        "君",
        "殿",
    ];
    let suffix = suffixes.iter().find(|s| text[start..end].ends_with(*s))?;
    let name_end = start
        + text[start..end - suffix.len()]
            .trim_end_matches([' ', '\u{3000}'])
            .len();
    let starts: Vec<usize> = text[start..name_end]
        .char_indices()
        .map(|(i, _)| start + i)
        .collect();
    let from = starts.len().saturating_sub(6);
    starts[from..].iter().find_map(|&s| {
        let name = &text[s..name_end];
        let family = family_len(name)?;
        let given = name
            .chars()
            .filter(|c| !matches!(c, ' ' | '\u{3000}'))
            .count()
            - family;
        // A family name alone is enough before a Japanese "さん"; otherwise a given name follows.
        (given >= 1 || family >= 2).then_some((s, name_end))
    })
}

/// A listed first name followed by a capitalised word, anywhere ("my colleague Anna Schmidt"),
/// unless the pair is famous.
fn listed_pairs(text: &str) -> Vec<(usize, usize)> {
    static CAPITALISED_PAIR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?) ((?:(?:van|von|de|da|del|di|dos|le|la|van der|van den|de la) )?\p{Lu}[\p{Ll}'’]+(?:-\p{Lu}\p{Ll}+)?)\b")
            .expect("a valid built-in pattern")
    });
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(c) = CAPITALISED_PAIR.captures_at(text, from) {
        let whole = c.get(0).expect("the whole match");
        let first = c.get(1).expect("group 1").as_str();
        let last = c.get(2).expect("group 2").as_str();
        let last_word = last.rsplit(' ').next().unwrap_or(last);
        let is_pair = FIRST.contains(first.to_lowercase().as_str())
            && !stop_word(first)
            && !stop_word(last_word)
            && !PLACE_NOUNS.contains(&last_word.to_lowercase().as_str())
            && !calendar_pair(first, last_word, &text[whole.end()..]);
        let famous = is_pair && famous_at(text, whole.start(), whole.end());
        if is_pair && !famous {
            found.push((whole.start(), whole.end()));
            from = whole.end();
        } else {
            // Try again from the second word ("Tell Anna Schmidt": "Anna Schmidt").
            from = c.get(2).expect("group 2").start();
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<&str> {
        find(text).iter().map(|(s, e)| &text[*s..*e]).collect()
    }

    #[test]
    fn greetings_sign_offs_and_form_fields_give_names_away() {
        let cases: &[(&str, &[&str])] = &[
            ("Hi Anna,\nthanks for the call.", &["Anna"]),
            ("Best regards,\nJohn Smith\nHead of Sales", &["John Smith"]),
            ("Met vriendelijke groet,\nMarijke Boer", &["Marijke Boer"]),
            ("Geachte heer Dekker,\nin de bijlage", &["Dekker"]),
            ("Saludos,\nEncarna", &["Encarna"]),
            ("Cordialement,\nRomain Bonnet", &["Romain Bonnet"]),
            ("С уважением,\nЖеня Смирнова", &["Женя Смирнова"]),
            ("Name: Els Smeets\nAdres: …", &["Els Smeets"]),
            ("git config user.name \"Anna Vázquez\"", &["Anna Vázquez"]),
            ("my name is anna schmidt and i need help", &["anna schmidt"]),
            ("my colleague Jan Jansen will pick it up", &["Jan Jansen"]),
            (
                "Bien cordialement,\n\nÉlodie Marchand\n04 72 61 38 90",
                &["Élodie Marchand"],
            ),
            ("Ich bin Can Kurt und habe eine Frage", &["Can Kurt"]),
            ("Salut, c'est Manon ! Mon nouveau numéro", &["Manon"]),
        ];
        for (text, expected) in cases {
            assert_eq!(names(text), *expected, "{text}");
        }
    }

    #[test]
    fn names_in_scripts_without_capitals_are_found_after_cues() {
        assert_eq!(names("اسمي حازم إبراهيم ولدي سؤال"), ["حازم إبراهيم"]);
        assert_eq!(
            names("مع تحياتي،\nنورهان عبدالحميد\n"),
            ["نورهان عبدالحميد"]
        );
        assert_eq!(names("मेरा नाम राहुल शर्मा है"), ["राहुल शर्मा"]);
        assert_eq!(names("我叫张伟，想问一下订单"), ["张伟"]);
        assert_eq!(names("佐々木直樹さん、こんにちは。"), ["佐々木直樹"]);
        assert_eq!(names("吉田さん、お疲れ様です。"), ["吉田"]);
        assert_eq!(names("Klant: 何涛\nOrder: 1"), ["何涛"]);
        assert_eq!(names("梅田3-1-3 田中 美咲 様\n"), ["田中 美咲"]);
        assert_eq!(names("株式会社サクラ企画の山本翔太です。"), ["山本翔太"]);
        assert_eq!(names("此致\n敬礼\n陈志强\n市场部"), ["陈志强"]);
    }

    #[test]
    fn words_after_cues_famous_names_and_teams_are_not_names() {
        for text in [
            "Hi team, the build is green again.",
            "Dear customer, your order has shipped.",
            "Best regards,\nThe Support Team",
            "Kind regards,\nCustomer Service",
            "Mit freundlichen Grüßen\nIhr Kundenservice",
            "Hallo zusammen, das Meeting ist verschoben.",
            "مرحباً بالجميع، تم تأجيل الاجتماع.",
            "Who was Albert Einstein?",
            "Write a short story where Harry Potter meets Frodo Baggins.",
            "hey, ISBN 978-0-664-45436-4, second edition",
            "Calle Mayor estaba llena de gente",
            "皆さん、会議は木曜日に変更になりました。",
            "Date:   Tue Mar 4 14:22:31 2025 +0100",
            "Meet me at the north exit of Victoria Station.",
            "TGV 6611 Paris Gare de Lyon 07:56",
            "Gabriel García Márquez publicó Cien años de soledad en 1967.",
            "Hey Siri, set a timer for 12 minutes.",
            "Dear Hiring Manager,\nI am writing to apply.",
        ] {
            assert_eq!(names(text), Vec::<&str>::new(), "{text}");
        }
        // A famous name a person gives for themselves is still theirs.
        assert_eq!(names("My name is Ada Lovelace."), ["Ada Lovelace"]);
    }
}
