//! The text of HTML as a reader sees it: what a mail client renders, not
//! the markup. Style sheets, scripts and comments are not shown (HTML
//! 4.01 14.2.3, 18.3.2; a comment is never rendered), so their words are
//! neither tokens nor link text: modern mail carries kilobytes of CSS,
//! and words like `padding` or `font` would otherwise tell the
//! classifier only "this mail has a style sheet", which wanted newsletters
//! have as much as spam.

/// The longest character reference name looked for (the longest HTML
/// entity name is 31 characters).
const MAX_REFERENCE: usize = 32;

/// Elements whose content is not rendered as text.
const HIDDEN: &[&str] = &["style", "script"];

/// The rendered text of `html`: tags become spaces, hidden elements and
/// comments vanish, character references are decoded.
pub fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while at < html.len() {
        let rest = &html[at..];
        let Some(open) = rest.find('<') else {
            decode_into(rest, &mut out);
            break;
        };
        decode_into(&rest[..open], &mut out);
        at += open;
        // A `<` that opens no tag, comment or end tag is text (HTML 4.01 B.3.2).
        if !lower[at + 1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!') {
            out.push('<');
            at += 1;
            continue;
        }
        if lower[at..].starts_with("<!--") {
            at = lower[at + 4..].find("-->").map_or(html.len(), |end| at + 4 + end + 3);
            out.push(' ');
            continue;
        }
        let tag_end = lower[at..].find('>').map_or(html.len(), |end| at + end + 1);
        let name: String = lower[at + 1..tag_end]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        at = tag_end;
        out.push(' ');
        if HIDDEN.contains(&name.as_str()) {
            let close = format!("</{name}");
            let close_at = lower[at..].find(&close).map_or(html.len(), |end| at + end);
            at = lower[close_at..].find('>').map_or(html.len(), |gt| close_at + gt + 1);
        }
    }
    out
}

/// Appends `text` with its character references decoded (HTML 4.01
/// 5.3; mail-parser knows every named one). No-break spaces and control
/// characters become spaces; an unknown name stays as written.
fn decode_into(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // Looked for within a reference's length only: a text of many
        // `&` and no `;` must not be scanned once per `&`.
        let reference = rest.as_bytes()[1..]
            .iter()
            .take(MAX_REFERENCE + 1)
            .position(|&b| b == b';')
            .filter(|n| (1..=MAX_REFERENCE).contains(n))
            .map(|n| &rest[..n + 2])
            .filter(|r| r[1..r.len() - 1].chars().all(|c| c.is_ascii_alphanumeric() || c == '#'));
        let Some(reference) = reference else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let mut decoded = String::new();
        mail_parser::decoders::html::add_html_token(&mut decoded, reference.as_bytes(), false);
        for c in decoded.chars() {
            out.push(if c == '\u{a0}' || c.is_control() { ' ' } else { c });
        }
        rest = &rest[reference.len()..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(html: &str) -> Vec<String> {
        visible_text(html).split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn style_sheets_scripts_and_comments_are_not_text() {
        let html = "<html><head><style type=\"text/css\">td { padding: 6px; font-family: Roboto }</style>\
                    <title>Notice</title></head><body><!--[if mso]><table><tr><td>outlook</td></tr></table><![endif]-->\
                    <p style=\"color:#333\">Your archive is <b>ready</b></p><SCRIPT>var tracking = 1;</SCRIPT>done</body></html>";
        assert_eq!(words(html), ["Notice", "Your", "archive", "is", "ready", "done"]);
    }

    #[test]
    fn character_references_are_decoded() {
        assert_eq!(
            visible_text("Caf&eacute; &amp; Bar&#39;s &#x41;&nbsp;deal &copy;2019 &#8217; &bogus;"),
            "Café & Bar's A deal ©2019 \u{2019} &bogus;"
        );
        // A bare ampersand stays as written.
        assert_eq!(visible_text("AT&T and R&D"), "AT&T and R&D");
        // Many ampersands and no semicolon: each is text, found in one pass.
        let many = "&".repeat(200_000);
        assert_eq!(visible_text(&many), many);
    }

    #[test]
    fn unclosed_markup_ends_the_text_instead_of_failing() {
        assert_eq!(words("before <style> a { }"), ["before"]);
        assert_eq!(words("before <!-- never closed"), ["before"]);
        assert_eq!(words("before <b"), ["before"]);
        assert_eq!(words("a < b and 1<2"), ["a", "<", "b", "and", "1<2"]);
    }
}
