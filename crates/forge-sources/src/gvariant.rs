//! Reading GVariant's serialisation, in which OSTree stores its objects:
//! tuples and arrays framed by offsets at their end, as the GVariant
//! specification lays them out. Only what OSTree's commits, directory
//! trees, directory metadata and file headers use is read, strictly: a
//! value that is not in the form GLib writes is `None`, never guessed at
//! (every object is checked against its checksum anyway).

/// The shape of one member of a tuple.
#[derive(Clone, Copy, Debug)]
pub enum Member {
    /// A fixed-size value (`u`, `t`): its alignment and size.
    Fixed(usize, usize),
    /// A variable-size value (`s`, `ay`, arrays): its alignment.
    Variable(usize),
}

/// How many bytes each framing offset takes in a container of `size`.
pub fn offset_size(size: usize) -> usize {
    match size {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    }
}

fn read_offset(bytes: &[u8], at: usize, size: usize) -> Option<usize> {
    let raw = bytes.get(at..at.checked_add(size)?)?;
    let mut value = 0u64;
    for (i, byte) in raw.iter().enumerate() {
        value |= u64::from(*byte) << (8 * i);
    }
    usize::try_from(value).ok()
}

fn align(at: usize, alignment: usize) -> usize {
    at.div_ceil(alignment) * alignment
}

/// The members of a tuple of `members`, in order.
pub fn tuple<'a>(bytes: &'a [u8], members: &[Member]) -> Option<Vec<&'a [u8]>> {
    let size = offset_size(bytes.len());
    // Offsets of variable members but the last sit at the end, the first
    // member's last.
    let mut frames_start = bytes.len();
    let mut at = 0;
    let mut out = Vec::with_capacity(members.len());
    for (i, member) in members.iter().enumerate() {
        let end = match *member {
            Member::Fixed(alignment, length) => {
                at = align(at, alignment);
                at.checked_add(length)?
            }
            Member::Variable(alignment) => {
                at = align(at, alignment);
                if i + 1 == members.len() {
                    frames_start
                } else {
                    frames_start = frames_start.checked_sub(size)?;
                    read_offset(bytes, frames_start, size)?
                }
            }
        };
        if end < at || end > frames_start {
            return None;
        }
        out.push(&bytes[at..end]);
        at = end;
    }
    Some(out)
}

/// The elements of an array whose elements vary in size (strings,
/// tuples holding any), each aligned to `alignment`.
pub fn array(bytes: &[u8], alignment: usize) -> Option<Vec<&[u8]>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let size = offset_size(bytes.len());
    let frames_start = read_offset(bytes, bytes.len().checked_sub(size)?, size)?;
    let frames = bytes.len().checked_sub(frames_start)?;
    if frames % size != 0 {
        return None;
    }
    let mut at = 0;
    let mut out = Vec::with_capacity(frames / size);
    for i in 0..frames / size {
        let end = read_offset(bytes, frames_start + i * size, size)?;
        at = align(at, alignment);
        if end < at || end > frames_start {
            return None;
        }
        out.push(&bytes[at..end]);
        at = end;
    }
    Some(out)
}

/// A string (`s`): UTF-8 ending in its one NUL.
pub fn string(bytes: &[u8]) -> Option<&str> {
    let text = bytes.strip_suffix(&[0])?;
    if text.contains(&0) {
        return None;
    }
    std::str::from_utf8(text).ok()
}

/// A `u` as OSTree stores it: big-endian.
pub fn u32_be(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// A `t` as OSTree stores it: big-endian.
pub fn u64_be(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// A variant (`v`): its value's bytes and type string.
pub fn variant(bytes: &[u8]) -> Option<(&[u8], &str)> {
    let nul = bytes.iter().rposition(|&b| b == 0)?;
    let kind = std::str::from_utf8(&bytes[nul + 1..]).ok()?;
    Some((&bytes[..nul], kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tuples_and_arrays_as_glib_frames_them() {
        // (sayay) ("bin", [1; 3], [2; 2]): offsets 7 then 4, reversed.
        let mut element = b"bin\0".to_vec();
        element.extend([1, 1, 1, 2, 2, 7, 4]);
        let parts = tuple(
            &element,
            &[Member::Variable(1), Member::Variable(1), Member::Variable(1)],
        )
        .unwrap();
        assert_eq!(string(parts[0]), Some("bin"));
        assert_eq!(parts[1], &[1, 1, 1]);
        assert_eq!(parts[2], &[2, 2]);
        // An array of two of them: each one's end, in order.
        let mut both = element.clone();
        both.extend(&element);
        both.extend([element.len() as u8, 2 * element.len() as u8]);
        let elements = array(&both, 1).unwrap();
        assert_eq!(elements, vec![&element[..], &element[..]]);
        assert_eq!(array(&[], 1).unwrap().len(), 0);
        // Fixed members are aligned: (uu) then a string.
        let fixed = [0, 0, 0, 7, 0, 0, 0, 9, b'x', 0];
        let parts = tuple(&fixed, &[Member::Fixed(4, 4), Member::Fixed(4, 4), Member::Variable(1)]).unwrap();
        assert_eq!(
            (u32_be(parts[0]), u32_be(parts[1]), string(parts[2])),
            (Some(7), Some(9), Some("x"))
        );
    }

    #[test]
    fn random_bytes_are_refused_or_read_never_panic() {
        // Hostile repositories: whatever the bytes, an answer, in bounds.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let shapes: [&[Member]; 3] = [
            &[
                Member::Variable(8),
                Member::Variable(1),
                Member::Fixed(8, 8),
                Member::Variable(1),
            ],
            &[Member::Fixed(4, 4), Member::Variable(1)],
            &[Member::Variable(1); 3],
        ];
        for _ in 0..20_000 {
            let length = (next() % 300) as usize;
            let bytes: Vec<u8> = (0..length).map(|_| next() as u8).collect();
            for shape in shapes {
                if let Some(parts) = tuple(&bytes, shape) {
                    assert_eq!(parts.len(), shape.len());
                    assert!(parts.iter().map(|p| p.len()).sum::<usize>() <= bytes.len());
                }
            }
            for alignment in [1, 8] {
                if let Some(elements) = array(&bytes, alignment) {
                    assert!(elements.len() <= bytes.len());
                }
            }
            let _ = (string(&bytes), variant(&bytes));
        }
    }

    #[test]
    fn refuses_offsets_that_point_outside() {
        let mut element = b"bin\0".to_vec();
        element.extend([1, 2, 200, 4]);
        assert!(tuple(&element, &[Member::Variable(1); 3]).is_none());
        assert!(array(&[1, 2, 3, 9], 1).is_none());
        assert!(string(b"a\0b\0").is_none(), "a NUL inside");
        assert!(string(b"ab").is_none(), "no NUL");
        assert_eq!(variant(b"main\0\x05\0as"), Some((&b"main\0\x05"[..], "as")));
    }
}
