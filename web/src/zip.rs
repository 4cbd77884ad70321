//! A minimal ZIP writer (stored entries, no compression) for the PEFT download: the page hands
//! the user one `adapter.zip` holding `adapter_config.json` and `adapter_model.safetensors`.
//! Format: PKWARE APPNOTE 6.3 — local header + data per file, then the central directory and
//! its end record; sizes under 4 GiB (no ZIP64).

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) as ZIP stores it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A ZIP archive of `files` (name, bytes), stored uncompressed, dated 1980-01-01.
pub fn zip_stored(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let offset = out.len() as u32;
        let (crc, size, name_len) = (crc32(data), data.len() as u32, name.len() as u16);
        // Fields shared by the local header and the central-directory entry: version needed,
        // flags, method (0 = stored), time, date (1980-01-01), CRC, sizes, name length, extra.
        let mut common = Vec::new();
        for v in [20u16, 0, 0, 0, 0x21] {
            common.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, size] {
            common.extend_from_slice(&v.to_le_bytes());
        }
        common.extend_from_slice(&name_len.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes());

        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&common);
        // Comment length, disk number, internal and external attributes.
        for v in [0u16, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size, n) = (out.len() as u32, central.len() as u32, files.len() as u16);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, n, n] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    /// Reads the archive back through its central directory, as unzip does.
    #[test]
    fn archive_lists_and_holds_every_file() {
        let files: [(&str, &[u8]); 2] = [("adapter_config.json", b"{\"r\": 8}"), ("adapter_model.safetensors", &[1, 2, 3, 250])];
        let zip = zip_stored(&files);
        let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
        let u32_at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) as usize;
        let end = zip.len() - 22;
        assert_eq!(u32_at(end), 0x0605_4b50);
        assert_eq!(u16_at(end + 10), 2);
        let mut entry = u32_at(end + 16);
        for (name, data) in files {
            assert_eq!(u32_at(entry), 0x0201_4b50);
            let name_len = u16_at(entry + 28);
            assert_eq!(&zip[entry + 46..entry + 46 + name_len], name.as_bytes());
            assert_eq!(u32_at(entry + 16), crc32(data) as usize);
            let local = u32_at(entry + 42);
            assert_eq!(u32_at(local), 0x0403_4b50);
            let start = local + 30 + u16_at(local + 26) + u16_at(local + 28);
            assert_eq!(&zip[start..start + data.len()], data);
            entry += 46 + name_len;
        }
    }
}
