// libFuzzer's entry points for every target in one binary: the core is
// compiled with the sanitizers once, and S3P_FUZZ_TARGET (request,
// s3-error, listing, provider; `make fuzz` sets it) chooses which entry
// point of the module's C boundary the inputs go to.

import Glibc

private var target: (UnsafePointer<UInt8>, Int) -> CInt = fuzzRequest

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>?,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    let name = getenv("S3P_FUZZ_TARGET").map { String(cString: $0) } ?? "request"
    switch name {
    case "request": target = fuzzRequest
    case "s3-error": target = fuzzS3Error
    case "listing": target = fuzzListing
    case "provider": target = fuzzProvider
    default:
        fputs("S3P_FUZZ_TARGET: no target \"\(name)\"\n", stderr)
        exit(2)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var empty: UInt8 = 0
    guard let data else { return withUnsafePointer(to: &empty) { target($0, 0) } }
    return target(data, size)
}
