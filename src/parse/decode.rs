//! Parse stage: feed bytes to UTF-8 (docs/fetching.md, "Fetching": the BOM, then the
//! charset of the HTTP Content-Type, then the XML declaration), with the
//! declaration rewritten to match, so that feed-rs only ever reads UTF-8.
//! Invalid bytes are replaced later, never fatal. Pure.

/// The encoding named by a Content-Type's charset parameter, if known.
pub(super) fn http_charset(content_type: &str) -> Option<&'static encoding_rs::Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| encoding_rs::Encoding::for_label(v.trim().trim_matches('"').as_bytes()))
            .flatten()
    })
}

/// Decodes non-UTF-8 XML to UTF-8 (by the BOM, then the HTTP charset, then
/// the XML declaration) and rewrites the declaration to match, so feed-rs
/// only ever sees UTF-8.
pub(super) fn to_utf8<'a>(
    bytes: &'a [u8],
    http: Option<&'static encoding_rs::Encoding>,
) -> std::borrow::Cow<'a, [u8]> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        if enc == encoding_rs::UTF_8 {
            return utf8_declared(&bytes[bom_len..]);
        }
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return std::borrow::Cow::Owned(rewrite_declaration(&text).into_bytes());
    }
    match http {
        Some(enc) if enc == encoding_rs::UTF_8 => return utf8_declared(bytes),
        // UTF-16 without a BOM is too rare to trust a header for.
        Some(enc) if enc != encoding_rs::UTF_16LE && enc != encoding_rs::UTF_16BE => {
            let (text, _) = enc.decode_without_bom_handling(bytes);
            return std::borrow::Cow::Owned(rewrite_declaration(&text).into_bytes());
        }
        _ => {}
    }
    let head = &bytes[..bytes.len().min(200)];
    let declared = std::str::from_utf8(head)
        .ok()
        .or_else(|| {
            std::str::from_utf8(&head[..head.iter().position(|b| *b >= 0x80).unwrap_or(0)]).ok()
        })
        .and_then(declared_encoding)
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()));
    match declared {
        // A declaration we could read as ASCII cannot be UTF-16: that label is
        // a common mislabel, and decoding by it would garble the whole feed.
        Some(enc)
            if ![
                encoding_rs::UTF_8,
                encoding_rs::UTF_16LE,
                encoding_rs::UTF_16BE,
            ]
            .contains(&enc) =>
        {
            let (text, _) = enc.decode_without_bom_handling(bytes);
            std::borrow::Cow::Owned(rewrite_declaration(&text).into_bytes())
        }
        _ => std::borrow::Cow::Borrowed(bytes),
    }
}

/// UTF-8 bytes whose XML declaration may name another encoding (a BOM or
/// the HTTP header said UTF-8): the declaration is rewritten, or feed-rs
/// would decode by it.
fn utf8_declared(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let head = &bytes[..bytes.len().min(200)];
    let other = std::str::from_utf8(head)
        .ok()
        .and_then(declared_encoding)
        .is_some_and(|label| {
            encoding_rs::Encoding::for_label(label.as_bytes()) != Some(encoding_rs::UTF_8)
        });
    if other {
        std::borrow::Cow::Owned(rewrite_declaration(&String::from_utf8_lossy(bytes)).into_bytes())
    } else {
        std::borrow::Cow::Borrowed(bytes)
    }
}

fn declared_encoding(head: &str) -> Option<String> {
    let decl = head.strip_prefix("<?xml")?;
    let end = decl.find("?>")?;
    let decl = &decl[..end];
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next()?;
    let rest = &rest[1..];
    Some(rest[..rest.find(quote)?].to_string())
}

fn rewrite_declaration(text: &str) -> String {
    match (text.starts_with("<?xml"), text.find("?>")) {
        (true, Some(end)) => format!("<?xml version=\"1.0\" encoding=\"utf-8\"{}", &text[end..]),
        _ => text.to_string(),
    }
}
