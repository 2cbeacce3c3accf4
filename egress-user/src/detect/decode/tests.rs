use std::ops::Range;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::*;

fn decode(payload: &[u8], max_depth: u8) -> Vec<Segment<'_>> {
    // The paths' arena must outlive the segments the test inspects: leaked, a test's worth.
    segments(payload, max_depth, Box::leak(Box::new(Bump::new())))
}

/// The payload range of the first occurrence of `needle` in the segment's text.
fn span(segment: &Segment<'_>, needle: &str) -> Range<usize> {
    let at = segment.text.find(needle).unwrap_or_else(|| panic!("{needle:?} in {:?}", segment.text));
    segment.map.to_payload(at, at + needle.len())
}

fn find<'s, 'p>(segments: &'s [Segment<'p>], text: &str) -> &'s Segment<'p> {
    segments.iter().find(|s| s.text == text).unwrap_or_else(|| panic!("segment {text:?} in {segments:#?}"))
}

fn at_path<'s, 'p>(segments: &'s [Segment<'p>], path: &str) -> &'s Segment<'p> {
    segments
        .iter()
        .find(|s| s.json_path == Some(path) && s.depth == 0)
        .unwrap_or_else(|| panic!("path {path} in {segments:#?}"))
}

fn position(payload: &[u8], needle: &[u8]) -> usize {
    memchr::memmem::find(payload, needle).expect("needle in payload")
}

/// Every map leads into the payload, and `Bytes` maps have one entry per text byte, plus one.
fn check_maps(payload: &[u8], segments: &[Segment<'_>]) {
    for segment in segments {
        let len = segment.text.len();
        match &segment.map {
            SpanMap::Offset(offset) => assert!(offset + len <= payload.len(), "{segment:?}"),
            SpanMap::Bytes(starts) => {
                assert_eq!(starts.len(), len + 1, "{segment:?}");
                assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{segment:?}");
                assert!(starts.last().is_some_and(|&end| end <= payload.len()), "{segment:?}");
            }
            SpanMap::Whole(range) => assert!(range.start <= range.end && range.end <= payload.len(), "{segment:?}"),
        }
        let whole = segment.map.to_payload(0, len);
        assert!(whole.start <= whole.end && whole.end <= payload.len(), "{segment:?}");
    }
}

const CHAT: &str = r#"{"model":"gpt-4o","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Call 555-0100 about the invoice"}],"tools":[{"type":"function","function":{"name":"send_email","parameters":{"type":"object","properties":{"to":{"type":"string"}}}}}],"weird key":"w","a\"b":"q"}"#;

#[test]
fn array_indices_of_every_width_are_written_in_paths() {
    let values: Vec<String> = (0..1001).map(|i| format!("value {i}")).collect();
    let payload = serde_json::to_vec(&values).expect("json");
    let segments = decode(&payload, 0);
    for index in [0, 9, 10, 99, 100, 1000] {
        assert_eq!(at_path(&segments, &format!("$[{index}]")).text, format!("value {index}"));
    }
    // Elements that are containers, which leave their own components behind them.
    let nested: Vec<serde_json::Value> = (0..1001)
        .map(|i| serde_json::json!([{ "m": [format!("object {i}"), {}, []] }, format!("inner {i}")]))
        .collect();
    let payload = serde_json::to_vec(&nested).expect("json");
    let segments = decode(&payload, 0);
    for index in [0, 9, 10, 99, 100, 999, 1000] {
        assert_eq!(at_path(&segments, &format!("$[{index}][0].m[0]")).text, format!("object {index}"));
        assert_eq!(at_path(&segments, &format!("$[{index}][1]")).text, format!("inner {index}"));
    }
}

#[test]
fn chat_completion_values_have_paths_and_spans() {
    let payload = CHAT.as_bytes();
    let segments = decode(payload, 2);
    check_maps(payload, &segments);
    let content = at_path(&segments, "$.messages[1].content");
    assert_eq!(content.text, "Call 555-0100 about the invoice");
    assert_eq!(content.map, SpanMap::Offset(position(payload, b"Call 555")));
    assert_eq!(&payload[span(content, "invoice")], b"invoice");
    assert_eq!(at_path(&segments, "$.messages[0].role").text, "system");
    assert_eq!(at_path(&segments, "$.model").text, "gpt-4o");
    assert_eq!(at_path(&segments, "$.tools[0].function.name").text, "send_email");
    assert_eq!(at_path(&segments, "$.tools[0].function.parameters.properties.to.type").text, "string");
    assert_eq!(at_path(&segments, r#"$["weird key"]"#).text, "w");
    assert_eq!(at_path(&segments, r#"$["a\"b"]"#).text, "q");
    // "weird key" is not a plain name: it is scanned too, with the object's path.
    let key = find(&segments, "weird key");
    assert_eq!(key.json_path, Some("$"));
    assert_eq!(&payload[span(key, "key")], b"key");
    // Plain field names are not segments.
    assert!(!segments.iter().any(|s| s.text == "messages" || s.text == "role"));
    assert!(segments.iter().all(|s| s.depth == 0), "{segments:#?}");
}

#[test]
fn escapes_map_each_decoded_byte_to_its_escape() {
    let payload = br#"{"a":["x",{"b":"line\nquote \" caf\u00e9 smile \ud83d\ude00 secret\/end"}]}"#;
    let segments = decode(payload, 1);
    check_maps(payload, &segments);
    let value = at_path(&segments, "$.a[1].b");
    assert_eq!(value.text, "line\nquote \" café smile 😀 secret/end");
    let SpanMap::Bytes(starts) = &value.map else { panic!("escaped strings map byte by byte: {value:?}") };
    assert_eq!(starts.len(), value.text.len() + 1);
    assert_eq!(*starts.last().expect("end"), position(payload, br#"end"}"#) + 3);
    assert_eq!(&payload[span(value, "line")], b"line");
    assert_eq!(&payload[span(value, "\n")], br"\n");
    assert_eq!(&payload[span(value, "\"")], br#"\""#);
    assert_eq!(&payload[span(value, "é")], br"\u00e9");
    assert_eq!(&payload[span(value, "😀")], br"\ud83d\ude00");
    assert_eq!(&payload[span(value, "secret")], b"secret");
    assert_eq!(&payload[span(value, "smile 😀 secret")], br"smile \ud83d\ude00 secret");
    assert_eq!(&payload[span(value, "/end")], br"\/end");
    // Every byte of the emoji maps to the start of the pair.
    let emoji = value.text.find('😀').expect("emoji");
    let pair = position(payload, br"\ud83d");
    assert_eq!(&starts[emoji..emoji + 4], &[pair; 4]);
    assert_eq!(starts[emoji + 4], pair + 12);
    assert_eq!(at_path(&segments, "$.a[0]").map, SpanMap::Offset(position(payload, b"x\"")));
}

#[test]
fn lone_surrogates_and_bad_escapes_do_not_break_maps() {
    let payload = br#"{"k":"a\ud800b\udc00c\qd\u12G4 secret"}"#;
    let segments = decode(payload, 0);
    check_maps(payload, &segments);
    let value = at_path(&segments, "$.k");
    assert_eq!(value.text, "a\u{fffd}b\u{fffd}c\\qd\\u12G4 secret");
    assert_eq!(&payload[span(value, "secret")], b"secret");
    assert_eq!(&payload[span(value, "\u{fffd}")], br"\ud800");
}

#[test]
fn form_body_values_are_percent_decoded() {
    let payload = b"name=John+Smith&email=john%40example.com&plan=pro&empty=&4111111111111111=x\r\n";
    let segments = decode(payload, 0);
    check_maps(payload, &segments);
    let texts: Vec<&str> = segments.iter().map(|s| s.text.as_ref()).collect();
    assert_eq!(texts, ["John Smith", "john@example.com", "pro", "4111111111111111", "x"]);
    assert_eq!(&payload[span(&segments[0], "John Smith")], b"John+Smith");
    assert_eq!(&payload[span(&segments[1], "john@example.com")], b"john%40example.com");
    assert_eq!(&payload[span(&segments[1], "@")], b"%40");
    assert_eq!(segments[2].map, SpanMap::Offset(position(payload, b"pro")));
    assert!(segments.iter().all(|s| s.json_path.is_none() && s.depth == 0));
}

#[test]
fn text_that_is_not_a_form_is_one_segment() {
    for payload in [&b"SGVsbG8gd29ybGQ="[..], b"hello there=you", b"https://example.com/?a=b"] {
        let segments = decode(payload, 0);
        assert_eq!(segments.len(), 1, "{payload:?}");
        assert_eq!(segments[0].map, SpanMap::Offset(0));
        assert_eq!(segments[0].text.as_bytes(), payload);
    }
}

#[test]
fn url_query_values_in_a_json_string() {
    let payload = br#"{"url":"see https://api.example.com/v1/find?email=jane%40corp.example&q=a+b&id=7#frag, now"}"#;
    let segments = decode(payload, 1);
    check_maps(payload, &segments);
    let email = find(&segments, "jane@corp.example");
    assert_eq!(email.depth, 1);
    assert_eq!(email.json_path, Some("$.url"));
    assert_eq!(&payload[span(email, "jane@corp.example")], b"jane%40corp.example");
    assert_eq!(&payload[span(email, "corp")], b"corp");
    assert_eq!(find(&segments, "a b").depth, 1);
    // `id=7` decodes to itself: it is in the string's own segment already.
    assert_eq!(segments.len(), 3, "{segments:#?}");
    assert!(decode(payload, 0).iter().all(|s| s.depth == 0));

    // Encoders that escape slashes: the value maps through the string's escapes.
    let payload = br#"{"u":"https:\/\/h.example\/p?to=jane%40corp.example"}"#;
    let segments = decode(payload, 1);
    check_maps(payload, &segments);
    let email = find(&segments, "jane@corp.example");
    assert_eq!(&payload[span(email, "jane@corp.example")], b"jane%40corp.example");
}

#[test]
fn base64_sentence_in_a_json_string_maps_to_the_whole_blob() {
    let sentence = "The quarterly numbers are confidential, do not share.";
    let blob = STANDARD.encode(sentence);
    let payload = format!(r#"{{"messages":[{{"content":"Attached: {blob} (base64)"}}]}}"#);
    let payload = payload.as_bytes();
    let segments = decode(payload, 1);
    check_maps(payload, &segments);
    let decoded = find(&segments, sentence);
    assert_eq!(decoded.depth, 1);
    assert_eq!(decoded.json_path, Some("$.messages[0].content"));
    let at = position(payload, blob.as_bytes());
    assert_eq!(decoded.map, SpanMap::Whole(at..at + blob.len()));
    assert_eq!(span(decoded, "confidential"), at..at + blob.len());
    // Depth 0 decodes nothing.
    assert_eq!(decode(payload, 0).len(), 1);
}

#[test]
fn blobs_are_found_wherever_they_fall_in_the_64_byte_search_blocks() {
    let sentence = "The quarterly numbers are confidential, do not share.";
    let blob = STANDARD.encode(sentence);
    let hex = hex::encode("user ssn 123-45-6789 ok");
    // Runs of the alphabet just short of a blob (and of punctuation only the search's
    // superset holds) before it, so the blob starts and ends at every offset in a block.
    for lead in 0..140 {
        let filler: String = "abcdefghijklmno.,/ ".chars().cycle().take(lead).collect();
        let text = format!("{filler} {blob} mid-text,{hex}");
        let segments = decode(text.as_bytes(), 1);
        check_maps(text.as_bytes(), &segments);
        let decoded = find(&segments, sentence);
        let at = lead + 1;
        assert_eq!(decoded.map, SpanMap::Whole(at..at + blob.len()), "lead {lead}");
        find(&segments, "user ssn 123-45-6789 ok");
    }
}

#[test]
fn base64_in_an_escaped_string_maps_through_the_escapes() {
    let sentence = "Employee record: Jane Roe, salary 120000";
    let blob = URL_SAFE_NO_PAD.encode(sentence);
    let payload = format!(r#"{{"c":"a\n\"{blob}\" \u00e9"}}"#);
    let payload = payload.as_bytes();
    let segments = decode(payload, 1);
    check_maps(payload, &segments);
    let at = position(payload, blob.as_bytes());
    assert_eq!(find(&segments, sentence).map, SpanMap::Whole(at..at + blob.len()));
}

#[test]
fn base64_of_base64_needs_depth_two() {
    let sentence = "Launch codename Bluebird ships on the first of May.";
    let inner = STANDARD.encode(sentence);
    let outer = STANDARD.encode(&inner);
    let payload = format!(r#"{{"data":"{outer}"}}"#);
    let payload = payload.as_bytes();
    let at = position(payload, outer.as_bytes());

    let shallow = decode(payload, 1);
    assert_eq!(find(&shallow, &inner).depth, 1);
    assert!(!shallow.iter().any(|s| s.text == sentence));

    let deep = decode(payload, 2);
    check_maps(payload, &deep);
    let decoded = find(&deep, sentence);
    assert_eq!(decoded.depth, 2);
    assert_eq!(decoded.map, SpanMap::Whole(at..at + outer.len()));
    assert_eq!(decoded.json_path, Some("$.data"));
}

#[test]
fn hex_blobs_are_decoded() {
    let secret = "user ssn 123-45-6789 ok";
    let blob = hex::encode(secret);
    let payload = format!("dump: {blob} and 0x{} end", hex::encode_upper("card 4111111111111111"));
    let payload = payload.as_bytes();
    let segments = decode(payload, 1);
    check_maps(payload, &segments);
    let decoded = find(&segments, secret);
    let at = position(payload, blob.as_bytes());
    assert_eq!(decoded.map, SpanMap::Whole(at..at + blob.len()));
    assert_eq!(decoded.depth, 1);
    let upper = find(&segments, "card 4111111111111111");
    let SpanMap::Whole(range) = &upper.map else { panic!("{upper:?}") };
    assert_eq!(&payload[range.start - 2..range.start], b"0x");
    assert_eq!(range.end, position(payload, b" end"));
}

#[test]
fn percent_encoded_blobs_are_decoded() {
    let payload = br#"{"note":"payload=name%3DJane%20Roe%26ssn%3D078-05-1120 sent"}"#;
    let segments = decode(payload, 1);
    check_maps(payload, &segments);
    let decoded = find(&segments, "payload=name=Jane Roe&ssn=078-05-1120");
    assert_eq!(decoded.depth, 1);
    assert_eq!(&payload[span(decoded, "Jane Roe")], b"Jane%20Roe");
}

#[test]
fn binary_data_urls_and_identifiers_yield_nothing() {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let mut state = 0x1234_5678_u32;
    png.extend((0..3000).map(|_| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as u8
    }));
    let payload = format!(
        r#"{{"messages":[{{"content":[{{"type":"image_url","image_url":{{"url":"data:image/png;base64,{}"}}}}]}}]}}"#,
        STANDARD.encode(&png)
    );
    let segments = decode(payload.as_bytes(), 3);
    assert_eq!(segments.len(), 2, "{:?}", segments.iter().map(|s| &s.json_path).collect::<Vec<_>>());
    assert!(segments.iter().all(|s| s.depth == 0));

    let words = "someVeryLongIdentifierNameHere abcdefghijklmnopqrstuvwxyz 550e8400-e29b-41d4-a716-446655440000 \
                 /usr/local/share/SomeProgram/Resources e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let segments = decode(words.as_bytes(), 3);
    assert_eq!(segments.len(), 1, "{segments:#?}");
}

#[test]
fn invalid_utf8_is_replaced_one_for_one() {
    let payload = b"hello \xff\xfe world \xe2\x82 secret";
    let segments = decode(payload, 1);
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].text, "hello ?? world ?? secret");
    assert_eq!(&payload[span(&segments[0], "secret")], b"secret");

    let payload = b"{\"a\":\"x\xffy secret\",\"b\":\"\\t\xc3 secret\"}";
    let segments = decode(payload, 1);
    check_maps(payload, &segments);
    assert_eq!(at_path(&segments, "$.a").text, "x?y secret");
    assert_eq!(&payload[span(at_path(&segments, "$.a"), "secret")], b"secret");
    assert_eq!(at_path(&segments, "$.b").text, "\t? secret");
    assert_eq!(&payload[span(at_path(&segments, "$.b"), "secret")], b"secret");
}

#[test]
fn lossy_text_matches_the_standard_replacement_byte_for_byte() {
    let mut rng = Rng(77);
    for round in 0..2000 {
        let len = rng.below(64);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match round % 3 {
                0 => rng.next() as u8,
                1 => [b'a', 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0xff][rng.below(13)],
                _ => 0x80 | rng.next() as u8,
            })
            .collect();
        let expected: String = bytes
            .utf8_chunks()
            .flat_map(|chunk| chunk.valid().chars().chain(std::iter::repeat_n('?', chunk.invalid().len())))
            .collect();
        assert_eq!(to_text(bytes.clone()), expected, "{bytes:x?}");
    }
}

#[test]
fn truncated_json_keeps_what_was_read() {
    let payload = br#"{"messages":[{"role":"user","content":"my secret tok"#;
    let segments = decode(payload, 1);
    check_maps(payload, &segments);
    assert_eq!(segments.len(), 2, "{segments:#?}");
    let content = at_path(&segments, "$.messages[0].content");
    assert_eq!(content.text, "my secret tok");
    assert_eq!(&payload[span(content, "tok")], b"tok");

    for cut in [br#"{"a":"b","#.as_slice(), br#"{"a":tru"#, br#"{"a":"x\u00"#, br#"{"a":12345678"#] {
        let segments = decode(cut, 1);
        check_maps(cut, &segments);
        assert!(segments.iter().all(|s| s.json_path.is_some()), "{cut:?}: {segments:#?}");
    }
    assert_eq!(decode(br#"{"a":12345678"#, 0)[0].text, "12345678");
}

#[test]
fn broken_json_falls_back_to_text_where_it_breaks() {
    let payload = br#"{"a":"one", oops "jane@example.com"}"#;
    let segments = decode(payload, 1);
    assert_eq!(segments.len(), 2);
    assert_eq!(at_path(&segments, "$.a").text, "one");
    let rest = &segments[1];
    assert_eq!(rest.map, SpanMap::Offset(position(payload, b"oops")));
    assert_eq!(&payload[span(rest, "jane@example.com")], b"jane@example.com");

    // A log line is not JSON, even if it starts like an array of numbers.
    let log = b"[2024-01-01 12:00] card 4111111111111111 paid";
    let segments = decode(log, 0);
    assert!(segments.iter().all(|s| s.json_path.is_none()), "{segments:#?}");
    assert_eq!(&log[span(&segments[0], "4111111111111111")], b"4111111111111111");

    let log = b"[INFO] user jane@example.com logged in";
    let segments = decode(log, 1);
    assert_eq!(segments.len(), 1);
    assert_eq!(&log[span(&segments[0], "jane")], b"jane");
}

#[test]
fn json_lines_numbers_and_unusual_keys() {
    let payload = b"{\"a\":\"one\",\"card\":4111111111111111,\"n\":42}\n[{\"jane@example.com\":-1.5e3}]\n";
    let segments = decode(payload, 0);
    check_maps(payload, &segments);
    assert_eq!(at_path(&segments, "$.a").text, "one");
    let card = at_path(&segments, "$.card");
    assert_eq!(card.text, "4111111111111111");
    assert_eq!(card.map, SpanMap::Offset(position(payload, b"4111")));
    let key = find(&segments, "jane@example.com");
    assert_eq!(key.json_path, Some("$[0]"));
    assert_eq!(segments.len(), 3, "{segments:#?}");
}

#[test]
fn deep_nesting_is_elided_not_fatal() {
    let mut payload = "[".repeat(100_000);
    payload.push_str(r#""deep secret""#);
    let segments = decode(payload.as_bytes(), 1);
    let [deep] = segments.as_slice() else { panic!("{segments:?}") };
    assert_eq!(deep.text, "deep secret");
    let path = deep.json_path.expect("path");
    assert_eq!(path, format!("${}.…", "[0]".repeat(64)));
    // Elements after the first at and past the elided depth keep the elided path.
    for depth in [64, 65, 66, 100] {
        let payload = format!("{}\"a\", \"b\", [\"c\"]{}", "[".repeat(depth), "]".repeat(depth));
        let segments = decode(payload.as_bytes(), 0);
        let paths: Vec<&str> = segments.iter().map(|s| s.json_path.expect("path")).collect();
        let outer = "[0]".repeat(63);
        let expected: Vec<String> = match depth {
            64 => vec![format!("${outer}[0]"), format!("${outer}[1]"), format!("${outer}[2].…")],
            _ => vec![format!("${outer}[0].…"); 3],
        };
        assert_eq!(paths, expected, "depth {depth}");
    }
}

/// A small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn never_panics_and_maps_stay_in_the_payload() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let blob = STANDARD.encode(STANDARD.encode("a secret sentence that is long enough"));
    let valid = format!(
        r#"{{"messages":[{{"role":"user","content":"x\n\"é\u00e9\ud83d\ude00 {blob} https://h.example/?q=a%20b%40c&r=1 {} ok"}}],"n":1234567890,"k\u0041y":[true,false,null,-1.5e+3,{{}},[]]}}"#,
        hex::encode("hex encoded text here")
    );
    let valid = valid.as_bytes();
    for cut in 0..=valid.len() {
        let payload = &valid[..cut];
        check_maps(payload, &decode(payload, 3));
    }
    let alphabet = b"{}[]\":,\\u0aZ=%+/ \n\xff\xc3d8";
    for _ in 0..3000 {
        let len = rng.below(200);
        let payload: Vec<u8> = if rng.below(2) == 0 {
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect()
        };
        check_maps(&payload, &decode(&payload, 3));
        // Mutations of the valid document.
        let mut mutated = valid.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(mutated.len());
            mutated[at] = alphabet[rng.below(alphabet.len())];
        }
        check_maps(&mutated, &decode(&mutated, 3));
    }
}

#[test]
fn engine_findings_carry_paths() {
    use crate::detect::{Category, Detector, Engine, Match};
    struct Word;
    impl Detector for Word {
        fn scan(&self, text: &str, out: &mut Vec<Match>) {
            for (start, _) in text.match_indices("Bluebird") {
                out.push(Match {
                    detector: "word",
                    category: Category::Dictionary,
                    start,
                    end: start + 8,
                    confidence: 0.5,
                    label: None,
                });
            }
        }
    }
    let blob = STANDARD.encode("project Bluebird is secret");
    let payload = format!(r#"{{"m":[{{"c":"caf\u00e9 Bluebird"}},{{"c":"{blob}"}}]}}"#);
    let payload = payload.as_bytes();
    let findings = Engine::new(vec![Box::new(Word)], [1; 16], 2).scan(payload);
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert_eq!(&payload[findings[0].start..findings[0].end], b"Bluebird");
    assert_eq!(findings[0].json_path.as_deref(), Some("$.m[0].c"));
    assert_eq!(&payload[findings[1].start..findings[1].end], blob.as_bytes());
    assert_eq!(findings[1].json_path.as_deref(), Some("$.m[1].c"));
}

/// A realistic chat-completion request of about 4 KiB.
fn chat_4k() -> String {
    let mut messages = vec![
        r#"{"role":"system","content":"You are a helpful assistant for the finance team.\nAnswer briefly and cite sources."}"#.to_string(),
    ];
    for i in 0..9 {
        messages.push(format!(
            r#"{{"role":"user","content":"Question {i}: summarise the attached quarterly report and list the three main risks, with a short explanation of each. See https://intranet.example.com/reports?id={i}&lang=en for context."}}"#
        ));
        messages.push(format!(
            r#"{{"role":"assistant","content":null,"tool_calls":[{{"id":"call_{i}abc","type":"function","function":{{"name":"search_docs","arguments":"{{\"query\":\"quarterly report risks {i}\",\"top_k\":5}}"}}}}]}}"#
        ));
    }
    format!(
        r#"{{"model":"gpt-4o","temperature":0.2,"messages":[{}],"tools":[{{"type":"function","function":{{"name":"search_docs","description":"Search internal documents","parameters":{{"type":"object","properties":{{"query":{{"type":"string"}},"top_k":{{"type":"integer"}}}},"required":["query"]}}}}}}]}}"#,
        messages.join(",")
    )
}

/// Timing figures, not an assertion: run with
/// `cargo test --release -p egress-user --lib decode::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore = "prints timings"]
fn timing() {
    use std::time::Instant;
    /// Best of 5 batches: the machine may be busy with other builds.
    fn time(name: &str, payload: &[u8], rounds: u32) {
        for depth in [0, 3] {
            let mut best = std::time::Duration::MAX;
            let mut segments = 0;
            for _ in 0..5 {
                let started = Instant::now();
                for _ in 0..rounds {
                    segments = std::hint::black_box(decode(std::hint::black_box(payload), depth)).len();
                }
                best = best.min(started.elapsed() / rounds);
            }
            let rate = payload.len() as f64 / best.as_secs_f64() / 1e6;
            println!(
                "{name}, max_depth {depth}: {} bytes, {segments} segments, {best:?}, {rate:.0} MB/s",
                payload.len()
            );
        }
    }
    let chat = chat_4k();
    time("4 KiB chat completion", chat.as_bytes(), 20_000);

    let line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.";
    let mut text = String::new();
    for i in 0.. {
        if text.len() >= 4 << 20 {
            break;
        }
        text.push_str(line);
        // One line break in seven, escaped as JSON does.
        text.push_str(if i % 7 == 6 { "\\n" } else { " " });
    }
    let escaped = format!(r#"{{"messages":[{{"role":"user","content":"{text}"}}]}}"#);
    if std::env::var_os("CHAT_ONLY").is_some() {
        return;
    }
    time("4 MiB JSON, one string with escapes", escaped.as_bytes(), 10);
    let plain = format!(r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#, text.replace("\\n", "  "));
    if std::env::var_os("CHAT_ONLY").is_some() {
        return;
    }
    time("4 MiB JSON, one plain string", plain.as_bytes(), 10);

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(3 << 20, 0x5a);
    let image = format!(r#"{{"image_url":{{"url":"data:image/png;base64,{}"}}}}"#, STANDARD.encode(&png));
    if std::env::var_os("CHAT_ONLY").is_some() {
        return;
    }
    time("4 MiB JSON, base64 PNG data URL", image.as_bytes(), 10);
}
