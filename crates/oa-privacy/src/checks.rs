//! Checksums and shapes that tell real identifiers from look-alikes.

/// The Luhn check of payment card numbers, over the digits of `text` (separators ignored).
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// The digits of `text`, as numbers.
pub fn digits(text: &str) -> Vec<u8> {
    text.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// Whether `text` (spaces allowed) is an IBAN with a valid ISO 13616 mod-97 checksum.
pub fn iban(text: &str) -> bool {
    let compact: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if !(15..=34).contains(&compact.len())
        || !compact[..2].iter().all(u8::is_ascii_uppercase)
        || !compact[2..4].iter().all(u8::is_ascii_digit)
        || !compact.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    // Move the first four characters to the end, letters become 10..35, remainder mod 97.
    let mut remainder = 0u32;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        if b.is_ascii_digit() {
            remainder = (remainder * 10 + u32::from(b - b'0')) % 97;
        } else {
            let v = u32::from(b - b'A') + 10;
            remainder = (remainder * 100 + v) % 97;
        }
    }
    remainder == 1
}

/// The EAN-13 check (ISBN-13 is one): weights 1 and 3 from the left, total a multiple of 10.
pub fn ean13(digits: &[u8]) -> bool {
    digits.len() == 13
        && digits
            .iter()
            .enumerate()
            .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 1 } else { 3 })
            .sum::<u32>()
            .is_multiple_of(10)
}

/// Whether all digits are the same (`0000 0000 0000 0000` passes Luhn but is no card).
pub fn all_same(digits: &[u8]) -> bool {
    digits.windows(2).all(|w| w[0] == w[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_real_test_numbers_and_refuses_one_digit_off() {
        assert!(luhn(&digits("4111 1111 1111 1111")));
        assert!(luhn(&digits("5500-0000-0000-0004")));
        assert!(luhn(&digits("378282246310005")));
        assert!(!luhn(&digits("4111 1111 1111 1112")));
    }

    #[test]
    fn ean13_accepts_isbns_and_barcodes_and_refuses_one_digit_off() {
        assert!(ean13(&digits("978-0-306-40615-7")));
        assert!(ean13(&digits("4006381333931")));
        assert!(!ean13(&digits("9780306406158")));
        assert!(!ean13(&digits("400638133393")));
    }

    #[test]
    fn iban_checksums() {
        assert!(iban("DE89 3704 0044 0532 0130 00"));
        assert!(iban("GB82WEST12345698765432"));
        assert!(iban("fr14 2004 1010 0505 0001 3m02 606"));
        assert!(!iban("DE88 3704 0044 0532 0130 00"));
        assert!(!iban("DE89"));
    }
}
