//! Splitting a script's output into lines as it arrives, with bounded memory.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// The longest piece of output delivered at once, in bytes. A longer line is delivered in
/// pieces of at most this size (cut on a UTF-8 character boundary when the text is UTF-8).
pub const MAX_LINE: usize = 16 * 1024;

/// Reads `reader` to its end, calling `line` for every line as soon as it is complete: no
/// trailing `\n` or `\r\n`, invalid UTF-8 replaced (lossily), lines longer than [`MAX_LINE`]
/// cut into pieces, and a last line without a newline delivered too.
pub(super) async fn read_lines<R, F>(reader: R, mut line: F) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    F: FnMut(&str),
{
    let mut reader = BufReader::with_capacity(MAX_LINE, reader);
    let mut pending: Vec<u8> = Vec::with_capacity(256);
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) => buf,
            Err(e) => {
                // Deliver what was read before the error, then report it.
                if !pending.is_empty() {
                    emit(&pending, &mut line);
                }
                return Err(e);
            }
        };
        if buf.is_empty() {
            if !pending.is_empty() {
                emit(trim_cr(&pending), &mut line);
            }
            return Ok(());
        }
        let room = MAX_LINE - pending.len();
        // The newline itself does not count towards the line, so look one byte further: a
        // line of exactly MAX_LINE bytes is one line, not a piece and an empty line.
        let scan = &buf[..buf.len().min(room + 1)];
        if let Some(at) = scan.iter().position(|&b| b == b'\n') {
            pending.extend_from_slice(&buf[..at]);
            reader.consume(at + 1);
            emit(trim_cr(&pending), &mut line);
            pending.clear();
        } else if room == 0 {
            // Full, and the next byte is not a newline: deliver a piece, keep any partial
            // character for the next one.
            let end = piece_end(&pending);
            emit(&pending[..end], &mut line);
            pending.drain(..end);
        } else {
            let take = buf.len().min(room);
            pending.extend_from_slice(&buf[..take]);
            reader.consume(take);
        }
    }
}

fn emit<F: FnMut(&str)>(bytes: &[u8], line: &mut F) {
    line(&String::from_utf8_lossy(bytes));
}

fn trim_cr(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// Where to cut a full buffer so that a UTF-8 character split across its end is kept whole
/// for the next piece. Non-UTF-8 data is cut at the end.
fn piece_end(buf: &[u8]) -> usize {
    let len = buf.len();
    for back in 1..=len.min(3) {
        let byte = buf[len - back];
        if byte & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the lead byte
        }
        let need = match byte {
            0xF8.. => 1, // not UTF-8
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if need > back && back < len {
            len - back
        } else {
            len
        };
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        read_lines(input, |l| out.push(l.to_owned())).await.unwrap();
        out
    }

    #[tokio::test]
    async fn splits_trims_and_keeps_last_line() {
        assert_eq!(lines(b"a\nb\r\n\nc").await, ["a", "b", "", "c"]);
        assert_eq!(lines(b"").await, Vec::<String>::new());
        assert_eq!(lines(b"only\n").await, ["only"]);
        assert_eq!(lines(b"\xffbad\n").await, ["\u{fffd}bad"]);
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_is_one_line() {
        let mut input = vec![b'x'; MAX_LINE];
        input.push(b'\n');
        input.extend_from_slice(b"next");
        let got = lines(&input).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1], "next");
    }

    #[tokio::test]
    async fn long_lines_come_in_pieces_on_character_boundaries() {
        // 'é' is two bytes; an odd prefix puts a character across every piece boundary.
        let text = format!("a{}", "é".repeat(MAX_LINE));
        let input = format!("{text}\nend\n");
        let got = lines(input.as_bytes()).await;
        assert!(got.len() > 2, "{}", got.len());
        assert!(got.iter().all(|piece| piece.len() <= MAX_LINE));
        assert!(got.iter().all(|piece| !piece.contains('\u{fffd}')));
        assert_eq!(got[..got.len() - 1].concat(), text);
        assert_eq!(got.last().unwrap(), "end");
    }

    #[test]
    fn piece_end_keeps_partial_characters() {
        assert_eq!(piece_end(b"abc"), 3);
        assert_eq!(piece_end("ab\u{e9}".as_bytes()), 4);
        assert_eq!(piece_end(&"ab\u{e9}".as_bytes()[..3]), 2);
        assert_eq!(piece_end(&"a\u{1f600}".as_bytes()[..4]), 1);
        assert_eq!(piece_end(b"ab\xff"), 3);
    }
}
