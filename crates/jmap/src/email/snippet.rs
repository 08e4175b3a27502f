//! SearchSnippet/get (RFC 8621 5.1): where a search's words appear in
//! each Email's subject and text, HTML-escaped, with `<mark>` around them.

use super::view::View;
use super::{Emails, parse_email_id};
use crate::error::MethodError;
use crate::{Context, LIMITS};
use serde_json::{Map, Value, json};

/// About as long as the preview property (RFC 8621 4.1.4: 256 characters).
const PREVIEW_CHARS: usize = 255;

/// The words a filter looks for in text, subject or body, at any depth.
fn words(filter: &Value, out: &mut Vec<String>) {
    match filter {
        Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("text" | "subject" | "body", Value::String(text)) => {
                        out.extend(text.split_whitespace().map(str::to_lowercase));
                    }
                    ("conditions", Value::Array(conditions)) => conditions.iter().for_each(|c| words(c, out)),
                    _ => {}
                }
            }
        }
        Value::Array(all) => all.iter().for_each(|f| words(f, out)),
        _ => {}
    }
}

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// `text` escaped with each word marked; `None` when no word is in it.
/// Matching is by lower case, char for char, so the marks fall on the
/// original text's own characters.
fn marked(text: &str, words: &[String]) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = chars.iter().map(|c| c.to_lowercase().next().unwrap_or(*c)).collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut found = false;
    let mut at = 0;
    let mut plain = String::new();
    while at < chars.len() {
        let hit = words.iter().filter(|w| !w.is_empty()).find_map(|word| {
            let word: Vec<char> = word.chars().collect();
            lower[at..].starts_with(&word).then_some(word.len())
        });
        match hit {
            Some(len) => {
                escape(&plain, &mut out);
                plain.clear();
                out.push_str("<mark>");
                escape(&chars[at..at + len].iter().collect::<String>(), &mut out);
                out.push_str("</mark>");
                at += len;
                found = true;
            }
            None => {
                plain.push(chars[at]);
                at += 1;
            }
        }
    }
    escape(&plain, &mut out);
    found.then_some(out)
}

/// Up to `PREVIEW_CHARS` of the text around the first word found.
fn excerpt(text: &str, words: &[String]) -> Option<String> {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let lower = flat.to_lowercase();
    let first = words.iter().filter_map(|w| lower.find(w.as_str())).min()?;
    // Start a little before the word, on a character boundary.
    let chars_before = lower[..first].chars().count();
    let start_char = chars_before.saturating_sub(40);
    let excerpt: String = flat.chars().skip(start_char).take(PREVIEW_CHARS).collect();
    marked(&excerpt, words)
}

pub async fn get(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let Some(Value::Array(ids)) = arguments.get("emailIds") else {
        return Err(MethodError::invalid_arguments("emailIds is required"));
    };
    if ids.len() > LIMITS.max_objects_in_get {
        return Err(MethodError::new("requestTooLarge"));
    }
    let mut wanted = Vec::new();
    if let Some(filter) = arguments.get("filter") {
        words(filter, &mut wanted);
    }
    let blobs: Vec<_> = ids
        .iter()
        .filter_map(|id| id.as_str().and_then(parse_email_id))
        .collect();
    let emails = Emails::holding(context, &blobs).await?;
    let (mut list, mut not_found) = (Vec::new(), Vec::new());
    for id in ids {
        let Some(email) = id.as_str().and_then(|id| emails.find(id)) else {
            not_found.push(id.clone());
            continue;
        };
        let content = context.store.message_content(&email.blob).await?;
        let view = View::new(&content);
        let subject = view.convenience("subject").and_then(|s| s.as_str().map(str::to_owned));
        let body: String = view.text().collect::<Vec<_>>().join("\n");
        let body = if view.message.text_body.is_empty() {
            mail_parser::decoders::html::html_to_text(&body)
        } else {
            body
        };
        list.push(json!({
            "emailId": email.id(),
            "subject": subject.and_then(|s| marked(&s, &wanted)),
            "preview": excerpt(&body, &wanted),
        }));
    }
    Ok(json!({
        "accountId": account_id,
        "list": list,
        "notFound": if not_found.is_empty() { Value::Null } else { Value::Array(not_found) },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_marked_and_the_rest_escaped() {
        let wanted = vec!["olá".to_owned(), "b<c".to_owned()];
        assert_eq!(
            marked("Olá & b<c!", &wanted),
            Some("<mark>Olá</mark> &amp; <mark>b&lt;c</mark>!".into())
        );
        assert_eq!(marked("nothing here", &wanted), None);
        let mut found = Vec::new();
        words(
            &json!({"operator": "AND", "conditions": [{"text": "Lunch Friday"}, {"from": "x"}]}),
            &mut found,
        );
        assert_eq!(found, ["lunch", "friday"]);
    }

    #[test]
    fn an_excerpt_starts_near_the_word() {
        let text = format!("{} the needle is here {}", "hay ".repeat(100), "hay ".repeat(100));
        let excerpt = excerpt(&text, &["needle".to_owned()]).unwrap();
        assert!(excerpt.contains("<mark>needle</mark>"), "{excerpt}");
        assert!(excerpt.chars().count() < PREVIEW_CHARS + 20);
    }
}
