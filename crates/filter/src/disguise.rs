//! Text written to read as one thing to a person and another to a filter:
//! look-alike letters of another alphabet ("MеtаМаsk" with Cyrillic е and
//! а), invisible characters between letters ("Mic\u{E0139}rosoft"), letters
//! spaced apart ("C o i n b a s e"). Mail programs write none of these in
//! a sender's name or a subject (none in the SpamAssassin ham or the tab
//! corpus; 2% of the phishing corpus's From: names).

/// Characters that show nothing: format characters a word may carry
/// without a visible mark. Variation selectors are only meaningful after
/// an emoji or an ideograph, never between two Latin letters.
fn invisible(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD | 0x034F | 0x180E | 0x200B..=0x200F | 0x2060..=0x2064 | 0xFE00..=0xFE0F | 0xFEFF | 0xE0000..=0xE01EF
    )
}

/// Latin look-alikes of Cyrillic and Greek letters (Unicode's
/// confusables, the ones phishing uses).
fn latin_look_alike(c: char) -> Option<char> {
    Some(match c {
        'а' | 'А' | 'α' | 'Α' => 'a',
        'В' | 'β' | 'Β' => 'b',
        'с' | 'С' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'Е' | 'ε' | 'Ε' => 'e',
        'Н' | 'Η' | 'һ' => 'h',
        'і' | 'І' | 'ι' | 'Ι' => 'i',
        'ј' | 'Ј' => 'j',
        'К' | 'κ' | 'Κ' => 'k',
        'М' | 'Μ' => 'm',
        'ո' | 'Ν' => 'n',
        'о' | 'О' | 'ο' | 'Ο' => 'o',
        'р' | 'Р' | 'ρ' | 'Ρ' => 'p',
        'ѕ' | 'Ѕ' => 's',
        'Т' | 'τ' | 'Τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' => 'w',
        'х' | 'Х' | 'χ' | 'Χ' => 'x',
        'у' | 'У' | 'γ' => 'y',
        'Ζ' => 'z',
        _ => return None,
    })
}

/// Letters of two scripts in one word: a Greek or Cyrillic letter among
/// Latin ones ("pаypal").
fn mixed_script(word: &str) -> bool {
    let latin = word.chars().any(|c| c.is_ascii_alphabetic());
    let other = word.chars().any(|c| matches!(c as u32, 0x0370..=0x052F));
    latin && other
}

/// An invisible character with a Latin letter on each side (other
/// invisibles between them aside).
fn hidden_inside(word: &str) -> bool {
    let visible: Vec<(usize, char)> = word.chars().enumerate().filter(|(_, c)| !invisible(*c)).collect();
    visible
        .windows(2)
        .any(|pair| pair[1].0 > pair[0].0 + 1 && pair[0].1.is_ascii_alphabetic() && pair[1].1.is_ascii_alphabetic())
}

/// Four or more single letters in a row, each followed by one space.
fn spaced_letters(text: &str) -> bool {
    let mut run = 0;
    for word in text.split(' ') {
        let mut chars = word.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_alphabetic() => {
                run += 1;
                if run >= 4 {
                    return true;
                }
            }
            _ => run = 0,
        }
    }
    false
}

/// How the words of `text` hide their letters, if they do: for a rule's
/// reason.
pub fn hidden_letters(text: &str) -> Option<&'static str> {
    if text.split_whitespace().any(hidden_inside) {
        Some("invisible characters inside a word")
    } else if text.split_whitespace().any(mixed_script) {
        Some("a word mixes alphabets (look-alike letters)")
    } else {
        None
    }
}

/// What disguise a name wears, if any: hidden letters, or letters spaced
/// apart (which a subject may do for show, "S A L E", a name does not).
pub fn disguise(name: &str) -> Option<&'static str> {
    hidden_letters(name).or_else(|| spaced_letters(name).then_some("letters spaced apart"))
}

/// `text` as a person reads it: invisibles dropped, look-alikes made
/// Latin, spaced letters joined; lower case.
pub fn as_read(text: &str) -> String {
    let plain: String = text
        .chars()
        .filter(|c| !invisible(*c))
        .map(|c| latin_look_alike(c).unwrap_or(c))
        .collect::<String>()
        .to_lowercase();
    if !spaced_letters(&plain) {
        return plain;
    }
    // "c o i n b a s e support" -> "coinbase support"
    let mut out = String::new();
    let mut previous_single = false;
    for word in plain.split(' ').filter(|w| !w.is_empty()) {
        let single = word.chars().count() == 1;
        if !(out.is_empty() || single && previous_single) {
            out.push(' ');
        }
        out.push_str(word);
        previous_single = single;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disguises_are_named() {
        assert_eq!(
            disguise("Mic\u{E0139}ros\u{E0139}oft Service"),
            Some("invisible characters inside a word")
        );
        assert_eq!(disguise("L\u{200B}edger"), Some("invisible characters inside a word"));
        assert_eq!(
            disguise("MеtаМаsk.io"),
            Some("a word mixes alphabets (look-alike letters)")
        );
        assert_eq!(disguise("C o i n b a s e"), Some("letters spaced apart"));
        assert_eq!(hidden_letters("S A L E today"), None);
    }

    #[test]
    fn ordinary_names_and_subjects_wear_none() {
        for text in [
            "Ana Souza",
            "J. R. R. Tolkien Society",
            "A B C",
            "Love ❤\u{FE0F} from us",
            "Family 👨\u{200D}👩\u{200D}👧 news",
            "Москва новости",
            "Ελληνικά νέα",
            "Café Zoë",
        ] {
            assert_eq!(disguise(text), None, "{text}");
        }
    }

    #[test]
    fn read_as_a_person_reads_it() {
        assert_eq!(as_read("Mic\u{E0139}ros\u{E0139}oft"), "microsoft");
        assert_eq!(as_read("MеtаМаsk"), "metamask");
        assert_eq!(as_read("C o i n b a s e Support"), "coinbase support");
        assert_eq!(as_read("Ana Souza"), "ana souza");
    }
}
