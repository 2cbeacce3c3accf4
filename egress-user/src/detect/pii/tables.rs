//! Reference tables the validators check against: top-level domains, IBAN lengths, country
//! calling codes, month names and street words. Written out by hand; kept compact.

/// Every delegated country-code TLD plus the generic TLDs e-mail addresses actually use,
/// separated by spaces. Names such as `local`, `invalid`, `test`, `example`, `internal` and
/// `lan` are deliberately absent.
pub(super) const TLDS: &str = concat!(
    // Country codes.
    "ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo bq br bs bt bv bw by bz ",
    "ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et eu fi fj fk fm fo ",
    "fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je ",
    "jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mg mh mk ml mm mn mo mp ",
    "mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py ",
    "qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st su sv sx sy sz tc td tf tg th tj tk tl tm ",
    "tn to tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw ",
    // Original and sponsored generic TLDs.
    "com net org edu gov mil int arpa info biz name pro aero asia cat coop jobs mobi museum post tel travel xxx ",
    // Newer generic TLDs.
    "academy accountant accountants actor adult agency airforce apartments app archi army art associates attorney ",
    "auction audio auto autos baby band bank bar bargains beauty beer berlin best bet bible bid bike bingo bio ",
    "black blog blue boats bond boo book boston boutique box broker build builders business buzz cab cafe cam ",
    "camera camp capital car cards care career careers cars casa cash casino catering center ceo charity chat cheap ",
    "christmas church city claims cleaning click clinic clothing cloud club coach codes coffee college community ",
    "company compare computer condos construction consulting contact contractors cooking cool country coupons ",
    "courses credit creditcard cricket cruises cymru dance date dating day deals degree delivery democrat dental ",
    "dentist design dev diamonds diet digital direct directory discount doctor dog domains download earth eco ",
    "education email energy engineer engineering enterprises equipment estate eus events exchange expert exposed ",
    "express fail faith family fan fans farm fashion feedback film final finance financial fish fishing fit fitness ",
    "flights florist flowers fly foo food football forsale forum foundation free fun fund furniture futbol fyi ",
    "gallery game games garden gay gent gift gifts gives glass global gmbh gold golf graphics gratis green gripe ",
    "group guide guitars guru hair hamburg haus health healthcare help hiphop hiv hockey holdings holiday homes ",
    "horse hospital host hosting house how icu immo immobilien inc industries ink institute insurance insure ",
    "international investments irish jetzt jewelry juegos kaufen kim kitchen kiwi koeln land lat law lawyer lease ",
    "legal lgbt life lighting limited limo link live llc llp loan loans lol london love ltd luxury maison ",
    "management market marketing mba media melbourne memorial men menu miami mobile moda moe mom money monster ",
    "mortgage moscow motorcycles mov movie music navy network new news nexus ngo ninja nrw nyc observer one ong onl ",
    "online ooo organic page paris partners parts party pet phd photo photography photos pics pictures pink pizza ",
    "place plumbing plus poker porn press productions prof promo properties property pub quebec quest racing radio ",
    "realestate realty recipes red rehab reise reisen rent rentals repair report republican rest restaurant review ",
    "reviews rich rip rocks rodeo rsvp rugby ruhr run saarland sale salon sarl school schule science scot security ",
    "services sex sexy shiksha shoes shop shopping show singles site ski skin soccer social software solar ",
    "solutions soy spa space sport srl storage store stream studio study style sucks supplies supply support surf ",
    "surgery swiss sydney systems tattoo tax taxi team tech technology tennis theater theatre tickets tienda tips ",
    "tires today tokyo tools top tours town toys trade trading training tube university uno vacations vegas ",
    "ventures vet viajes video villas vin vip vision vodka vote voting voto voyage wales wang watch webcam website ",
    "wedding wien wiki win wine work works world wtf xyz yoga zip zone ",
    // Brand TLDs seen in real mail domains.
    "amazon android apple aws azure bing bmw google gmail goog hsbc ibm microsoft office samsung sony windows xbox ",
    "youtube ",
);

/// IBAN length per country (ISO 13616 registry).
pub(super) fn iban_length(country: [u8; 2]) -> Option<usize> {
    let len = match &country {
        b"AD" => 24,
        b"AE" => 23,
        b"AL" => 28,
        b"AT" => 20,
        b"AZ" => 28,
        b"BA" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BH" => 22,
        b"BI" => 27,
        b"BR" => 29,
        b"BY" => 28,
        b"CH" => 21,
        b"CR" => 22,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DJ" => 27,
        b"DK" => 18,
        b"DO" => 28,
        b"EE" => 20,
        b"EG" => 29,
        b"ES" => 24,
        b"FI" => 18,
        b"FK" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GE" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"GT" => 28,
        b"HN" => 28,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IQ" => 23,
        b"IS" => 26,
        b"IT" => 27,
        b"JO" => 30,
        b"KW" => 30,
        b"KZ" => 20,
        b"LB" => 28,
        b"LC" => 32,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"LY" => 25,
        b"MC" => 27,
        b"MD" => 24,
        b"ME" => 22,
        b"MK" => 19,
        b"MN" => 20,
        b"MR" => 27,
        b"MT" => 31,
        b"MU" => 30,
        b"NI" => 28,
        b"NL" => 18,
        b"NO" => 15,
        b"OM" => 23,
        b"PK" => 24,
        b"PL" => 28,
        b"PS" => 29,
        b"PT" => 25,
        b"QA" => 29,
        b"RO" => 24,
        b"RS" => 22,
        b"RU" => 33,
        b"SA" => 24,
        b"SC" => 31,
        b"SD" => 18,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"SO" => 23,
        b"ST" => 25,
        b"SV" => 28,
        b"TL" => 23,
        b"TN" => 24,
        b"TR" => 26,
        b"UA" => 29,
        b"VA" => 22,
        b"VG" => 24,
        b"XK" => 20,
        b"YE" => 30,
        _ => return None,
    };
    Some(len)
}

/// Assigned ITU-T E.164 country calling codes (geographic ones). The set is prefix-free, so
/// at most one of the 1-, 2- and 3-digit prefixes of a number is in it.
pub(super) const CALLING_CODES: &[u16] = &[
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60,
    61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211, 212, 213, 216, 218, 220, 221, 222, 223,
    224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246,
    247, 248, 249, 250, 251, 252, 253, 254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290,
    291, 297, 298, 299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377, 378,
    379, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505, 506, 507, 508, 509, 590,
    591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675, 676, 677, 678, 679, 680, 681, 682, 683, 685,
    686, 687, 688, 689, 690, 691, 692, 850, 852, 853, 855, 856, 880, 886, 960, 961, 962, 963, 964, 965, 966, 967, 968,
    970, 971, 972, 973, 974, 975, 976, 977, 992, 993, 994, 995, 996, 998,
];

/// Length of the country calling code at the start of `digits` (values 0-9), if any.
pub(super) fn calling_code_len(digits: &[u8]) -> Option<usize> {
    let mut code = 0u16;
    for (i, &d) in digits.iter().take(3).enumerate() {
        code = code * 10 + u16::from(d);
        if CALLING_CODES.binary_search(&code).is_ok() {
            return Some(i + 1);
        }
    }
    None
}

/// Month number of a month name or abbreviation (English, German, French, Spanish, Italian).
pub(super) fn month(word: &str) -> Option<u8> {
    let mut buf = [0u8; 16];
    let mut len = 0;
    for c in word.chars() {
        // Fold the few accented letters month names use; anything else non-ASCII is no month.
        let c = match c {
            'é' | 'É' => 'e',
            'û' | 'Û' => 'u',
            'ä' | 'Ä' => 'a',
            c if c.is_ascii_alphabetic() => c.to_ascii_lowercase(),
            _ => return None,
        };
        if len == buf.len() {
            return None;
        }
        buf[len] = c as u8;
        len += 1;
    }
    let m = match &buf[..len] {
        b"january" | b"jan" | b"januar" | b"janvier" | b"enero" | b"gennaio" => 1,
        b"february" | b"feb" | b"februar" | b"fevrier" | b"febrero" | b"febbraio" => 2,
        b"march" | b"mar" | b"marz" | b"maerz" | b"mars" | b"marzo" => 3,
        b"april" | b"apr" | b"avril" | b"abril" | b"aprile" => 4,
        b"may" | b"mai" | b"mayo" | b"maggio" => 5,
        b"june" | b"jun" | b"juni" | b"juin" | b"junio" | b"giugno" => 6,
        b"july" | b"jul" | b"juli" | b"juillet" | b"julio" | b"luglio" => 7,
        b"august" | b"aug" | b"aout" | b"agosto" => 8,
        b"september" | b"sep" | b"sept" | b"septembre" | b"septiembre" | b"settembre" => 9,
        b"october" | b"oct" | b"oktober" | b"octobre" | b"octubre" | b"ottobre" => 10,
        b"november" | b"nov" | b"novembre" | b"noviembre" => 11,
        b"december" | b"dec" | b"dezember" | b"decembre" | b"diciembre" | b"dicembre" => 12,
        _ => return None,
    };
    Some(m)
}

/// Street-type words that end an English street name ("Baker Street", "Elm Ave").
pub(super) const STREET_SUFFIXES: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "av",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "court",
    "ct",
    "place",
    "pl",
    "square",
    "sq",
    "terrace",
    "ter",
    "trail",
    "trl",
    "parkway",
    "pkwy",
    "highway",
    "hwy",
    "way",
    "circle",
    "cir",
    "crescent",
    "cres",
    "close",
    "row",
    "mews",
    "grove",
    "gardens",
    "walk",
    "alley",
    "plaza",
    "loop",
    "pike",
    "expressway",
    "freeway",
];

/// Street-type words that open a Romance-language street name ("12 rue de la Paix").
pub(super) const STREET_PREFIXES: &[&str] = &[
    "rue",
    "avenue",
    "av",
    "boulevard",
    "bd",
    "place",
    "chemin",
    "allée",
    "allee",
    "impasse",
    "quai",
    "route",
    "cours",
    "calle",
    "avenida",
    "avda",
    "paseo",
    "plaza",
    "via",
    "viale",
    "piazza",
    "corso",
    "carrer",
    "rua",
];

/// Lower-case joiners allowed inside a Romance street name ("de la", "del").
pub(super) const STREET_JOINERS: &[&str] = &["de", "du", "des", "la", "le", "les", "del", "della", "di", "do", "da"];

/// Endings of German and Dutch compound street names ("Hauptstraße 5", "Kerkstraat 12").
pub(super) const STREET_COMPOUND_ENDINGS: &[&str] = &[
    "straße", "strasse", "str.", "weg", "allee", "platz", "gasse", "damm", "ufer", "chaussee", "straat", "laan",
    "gracht", "plein", "singel", "kade", "dijk", "steeg",
];

/// Capitalised words that make "3 The Road"-like phrases titles rather than addresses.
pub(super) const STREET_STOPWORDS: &[&str] =
    &["the", "a", "an", "and", "or", "of", "for", "to", "in", "on", "with", "best", "top", "my", "our", "your"];
