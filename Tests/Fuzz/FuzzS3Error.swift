// libFuzzer entry point: S3's error answers to proxied requests, through
// the C entry point nginx's error filter calls, s3p_s3_error().  Built
// with `make fuzz`:
//   swiftc -sanitize=fuzzer,address -D S3P_FUZZ Sources/S3Proxy/**.swift
//       Tests/Fuzz/FuzzS3Error.swift
//
// Input layout: STATUS BODY, STATUS one byte (400 + its value modulo 200:
// every 4xx and 5xx), BODY the rest (at most S3P_ERROR_BODY_MAX bytes
// reach the core, as in nginx).
// Beyond "does not crash", each answer is checked for what must hold:
// - it is S3P_OK and fits S3P_ERROR_OUT_MAX;
// - the document is the fixed frame around the code and a message, and
//   nothing of S3's body but the code reaches it;
// - the code is 1 to S3P_ERROR_CODE_MAX letters and digits;
// - a body that is exactly `<Error><Code>C</Code></Error>` with a plain
//   code C keeps C.

internal import CShim

private let head = Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>".utf8)
private let middle = Array("</Code><Message>".utf8)
private let tail = Array("</Message></Error>".utf8)

public func fuzzS3Error(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let status = 400 + Int32(data[0]) % 200
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    var out = [UInt8](repeating: 0, count: Int(S3P_ERROR_OUT_MAX))
    var err = s3p_s3_error_t()
    let rc = body.withUnsafeBufferPointer { b in
        out.withUnsafeMutableBufferPointer { o in
            s3p_s3_error(status, b.baseAddress, min(b.count, Int(S3P_ERROR_BODY_MAX)),
                         o.baseAddress, o.count, &err)
        }
    }
    precondition(rc == S3P_OK, "s3p_s3_error answered \(rc)")
    let code = Array(UnsafeBufferPointer(start: err.code.data, count: err.code.len))
    let document = Array(UnsafeBufferPointer(start: err.body.data, count: err.body.len))
    precondition(!code.isEmpty && code.count <= Int(S3P_ERROR_CODE_MAX), "code length")
    precondition(code.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) },
                 "code is not letters and digits")
    precondition(document.count <= Int(S3P_ERROR_OUT_MAX))
    precondition(document.starts(with: head + code + middle), "not the document's frame")
    precondition(document.count >= head.count + code.count + middle.count + tail.count
                 && Array(document.suffix(tail.count)) == tail, "not the document's end")
    let message = document[(head.count + code.count + middle.count)..<(document.count - tail.count)]
    precondition(!message.contains(UInt8(ascii: "<")) && !message.contains(UInt8(ascii: "&")),
                 "markup in the message")

    // A plain document keeps its code.
    let open = Array("<Error><Code>".utf8), close = Array("</Code></Error>".utf8)
    if body.starts(with: open), body.count > open.count + close.count,
       Array(body.suffix(close.count)) == close
    {
        let sent = Array(body[open.count..<(body.count - close.count)])
        if !sent.isEmpty && sent.count <= Int(S3P_ERROR_CODE_MAX)
            && sent.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) })
        {
            precondition(code == sent, "a plain code was not kept")
        }
    }
    return 0
}
