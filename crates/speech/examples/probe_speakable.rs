fn main() {
    let cases: &[(&str, &str)] = &[
        ("en", "The house is near St."),
        ("en", "We are on Main St. The garden is big."),
        ("en", "We are on Main St. the garden is big."),
        ("en", "WE ARE ON MAIN ST. THE GARDEN IS BIG."),
        ("en", "Meet dr. Green on elm st. today."),
        ("en", "Meet DR. GREEN today."),
        ("en", "The garden is big, approx. The kitchen is new."),
        ("en", "It has a pool, a sauna etc. The kitchen is new."),
        ("en", "It has a pool, a sauna etc."),
        ("en", "The flat is 1,250 sq. ft. The kitchen is new."),
        ("en", "The flat is 1,250 sq. ft. with a view."),
        (
            "en",
            "It has 2.5 baths and costs $450,000. A 3-bedroom home.",
        ),
        ("en", "Open house at 10:30 a.m. on Sunday."),
        ("en", "Open house at 10 a.m. Come early."),
        ("en", "The price is approx. $450,000."),
        (
            "en",
            "Mr. and Mrs. Smith live on Oak Ave. Their garden is big.",
        ),
        ("en", "Visit us on Oak Ave., next to the park."),
        ("en", "It was built in the U.S. The garden is big."),
        ("en", "It is 5 ft. tall."),
        ("en", "Call Ms. Lee. She knows."),
        ("en", "\"Welcome to St. John's,\" said Dr. Lee."),
        ("en", "The house (on Elm St.) is big."),
        ("en", "Our agent, Dr. Lee, will show you round."),
        ("en", "It is 20 sq. m. in size."),
        (
            "es",
            "La Sra. Ruiz vive en la av. del Mar, p. ej. cerca. La Dra. López también.",
        ),
        ("es", "Vive en la Av. Mayor. La casa es grande."),
        ("es", "La casa mide aprox. Cien metros."),
        ("es", "SRA. RUIZ y DRA. LÓPEZ."),
        (
            "fr",
            "M. Martin habite av. Foch, env. dix minutes. Mme Dubois aussi.",
        ),
        ("fr", "Elle habite 12 av. Foch. La maison est grande."),
        ("fr", "Il y a env. Vingt chambres."),
        ("de", "Die Wohnung liegt in der Goethestr. 5 in Berlin."),
        (
            "de",
            "Die Wohnung liegt in der Str. Am Park, z. B. ca. zehn Minuten.",
        ),
        ("de", "Wir wohnen an der Haupt Str. Der Garten ist groß."),
        ("de", "Die Wohnung liegt im 3. Stock."),
        ("de", "Das Haus hat ca. 120 Quadratmeter, z.B. eine Küche."),
        (
            "de",
            "Hr. Braun zeigt Ihnen z. B. die Küche. Fr. Vogel den Garten.",
        ),
        (
            "en",
            "Dr. Green and Mrs. Hale welcome you to St. Mary Lane.",
        ),
        ("en", "Cafe\u{301} Rene\u{301}e on St. Mary Lane."),
        ("en", "i.e. the garden. E.G. the hall."),
    ];
    for (lang, s) in cases {
        println!("[{lang}] {s}");
        for sent in peakreel_speech::speakable::sentences(s, lang) {
            println!("    W: {}\n    S: {}", sent.written, sent.spoken);
        }
    }
}
