//! Borrowed field types shared by several messages: GBK text and lists of words.

/// A STRING field as received: GBK bytes (ASCII for most fields), 0x00 padding removed.
///
/// The codec does not transcode: GBK tables are the caller's choice, and ASCII (the common case for
/// ids, IMEIs and auth codes) is readable through [`Text::as_str`] without one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Text<'a>(pub &'a [u8]);

impl<'a> Text<'a> {
    /// The raw bytes.
    #[inline]
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The text when it is valid UTF-8 (always, for ASCII).
    #[inline]
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.0).ok()
    }

    /// Whether empty.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Length in bytes.
    #[inline]
    pub const fn len(&self) -> usize {
        self.0.len()
    }
}

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.as_str() {
            Some(s) => write!(f, "{s:?}"),
            None => write!(f, "gbk{:02x?}", self.0),
        }
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(s.as_bytes())
    }
}

impl<'a> From<&'a [u8]> for Text<'a> {
    fn from(s: &'a [u8]) -> Self {
        Text(s)
    }
}

/// A list of WORDs: as received (big-endian bytes, borrowed) or as built by a caller.
/// Equality compares the values, whichever form each side has.
#[derive(Clone, Copy)]
pub enum WordList<'a> {
    /// Big-endian bytes from the wire (even length).
    Wire(&'a [u8]),
    /// Values to encode.
    Values(&'a [u16]),
}

impl<'a> WordList<'a> {
    /// Number of words.
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            WordList::Wire(b) => b.len() / 2,
            WordList::Values(v) => v.len(),
        }
    }

    /// Whether empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        let (wire, values): (&'a [u8], &'a [u16]) = match *self {
            WordList::Wire(b) => (b, &[]),
            WordList::Values(v) => (&[], v),
        };
        wire.chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .chain(values.iter().copied())
    }
}

impl PartialEq for WordList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for WordList<'_> {}

impl std::fmt::Debug for WordList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
