// Views of the byte strings C hands over (s3p_str_t, nginx's ngx_str_t
// layout): read in place, never copied.

internal import CShim

enum Bytes {
    static var empty: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: nil, count: 0) }

    /// The bytes of `s` (empty for a NULL pointer).
    @inline(__always)
    static func view(_ s: s3p_str_t) -> UnsafeBufferPointer<UInt8> {
        guard let data = s.data else { return empty }
        return UnsafeBufferPointer(start: data, count: s.len)
    }

    /// A C array of strings (empty for NULL).
    @inline(__always)
    static func list(_ items: UnsafePointer<s3p_str_t>?, _ count: Int)
        -> UnsafeBufferPointer<s3p_str_t>
    {
        guard let items else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: items, count: count)
    }
}
