// Writing into the buffer nginx allocated from the request pool.

internal import CShim

/// Writes into the caller's buffer and hands back slices of it; past its
/// capacity it only counts, and `overflowed` tells the caller to answer
/// S3P_E_SPACE.
struct BufferWriter {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    private(set) var count = 0
    var overflowed: Bool { count > capacity }

    init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @inline(__always)
    mutating func write(_ byte: UInt8) {
        if count < capacity { base[count] = byte }
        count += 1
    }

    /// Past capacity nothing more is written, only counted: an overflowed
    /// answer is never used.
    @discardableResult @inline(__always)
    mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) -> s3p_str_t {
        let start = count
        if let source = bytes.baseAddress, bytes.count <= capacity - count {
            // A raw copy is a memcpy in every build; a typed update(from:)
            // is a byte loop in Embedded Swift.
            UnsafeMutableRawPointer(base + count).copyMemory(from: source,
                                                             byteCount: bytes.count)
        }
        count += bytes.count
        return str(start, count)
    }

    @inline(__always)
    mutating func write(_ s: s3p_str_t) {
        guard let data = s.data else { return }
        write(UnsafeBufferPointer(start: data, count: s.len))
    }

    @discardableResult
    mutating func write(_ bytes: [UInt8]) -> s3p_str_t {
        bytes.withUnsafeBufferPointer { write($0) }
    }


    mutating func write(_ string: StaticString) {
        string.withUTF8Buffer { _ = write($0) }
    }

    mutating func skip(_ n: Int) {
        count += n
    }

    /// Forgets what was written from `start` on.
    mutating func rewind(to start: Int) {
        count = start
    }

    mutating func writeDecimal(_ value: UInt32) {
        var divisor: UInt32 = 1
        while value / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            write(UInt8(ascii: "0") &+ UInt8(value / divisor % 10))
            divisor /= 10
        }
    }

    mutating func writeEncoded(_ bytes: UnsafeBufferPointer<UInt8>, keepSlash: Bool) {
        guard bytes.count <= (capacity - count) / 3 else {
            // Near the end of the buffer: byte by byte, counting past it.
            for byte in bytes {
                if PercentEncoding.isUnreserved(byte)
                    || (keepSlash && byte == UInt8(ascii: "/"))
                {
                    write(byte)
                } else {
                    write(UInt8(ascii: "%"))
                    write(Hex.upper(byte >> 4))
                    write(Hex.upper(byte & 0x0f))
                }
            }
            return
        }
        // Room for the worst case (every byte escaped): no checks per byte.
        var at = base + count
        for byte in bytes {
            if PercentEncoding.isUnreserved(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                at.pointee = byte
                at += 1
            } else {
                at[0] = UInt8(ascii: "%")
                at[1] = Hex.upper(byte >> 4)
                at[2] = Hex.upper(byte & 0x0f)
                at += 3
            }
        }
        count = at - base
    }

    mutating func writeEncoded(_ s: s3p_str_t, keepSlash: Bool) {
        guard let data = s.data else { return }
        writeEncoded(UnsafeBufferPointer(start: data, count: s.len), keepSlash: keepSlash)
    }

    /// Decodes `%XX` escapes once (and, in a query, `+` as a space);
    /// false for a malformed escape.
    mutating func writeDecoded(
        _ raw: UnsafeBufferPointer<UInt8>, plusIsSpace: Bool = false
    ) -> Bool {
        var i = 0
        while i < raw.count {
            // The bytes up to the next escape (or `+`) are copied as a run.
            var end = i
            while end < raw.count && raw[end] != UInt8(ascii: "%")
                && !(plusIsSpace && raw[end] == UInt8(ascii: "+"))
            {
                end += 1
            }
            if end > i {
                write(UnsafeBufferPointer(rebasing: raw[i..<end]))
                i = end
                continue
            }
            let byte = raw[i]
            if plusIsSpace && byte == UInt8(ascii: "+") {
                write(UInt8(ascii: " "))
                i += 1
            } else if byte == UInt8(ascii: "%") {
                guard i + 2 < raw.count,
                      let high = Hex.value(raw[i + 1]), let low = Hex.value(raw[i + 2])
                else {
                    return false
                }
                write(high << 4 | low)
                i += 3
            } else {
                write(byte)
                i += 1
            }
        }
        return true
    }

    /// The bytes written from `start` to now (within capacity).
    func slice(from start: Int) -> UnsafeBufferPointer<UInt8> {
        slice(start, count)
    }

    func slice(_ start: Int, _ end: Int) -> UnsafeBufferPointer<UInt8> {
        let from = min(start, capacity)
        return UnsafeBufferPointer(start: base + from, count: max(min(end, capacity) - from, 0))
    }

    func str(_ start: Int, _ end: Int) -> s3p_str_t {
        let view = slice(start, end)
        return s3p_str_t(len: view.count, data: view.baseAddress)
    }
}
