// swift-tools-version: 6.1
//
// s3-proxy: the Swift core of ngx_http_s3_proxy_module.
//
// The nginx module (nginx/) links the static library product below into
// its shared object; `s3p-sign` is a small command-line signer used by the
// tests to compare this code with botocore, and by operators to check a
// signature by hand.

import PackageDescription

let package = Package(
    name: "s3-proxy",
    products: [
        .library(name: "S3ProxyCore", type: .static, targets: ["S3Proxy"]),
        .executable(name: "s3p-sign", targets: ["s3p-sign"]),
        .executable(name: "s3p-bench", targets: ["s3p-bench"]),
    ],
    targets: [
        // The one C header that declares the boundary between the nginx
        // module and Swift.
        .target(name: "CShim", path: "CShim"),
        // OpenSSL's libcrypto (SHA-256), and the state each thread keeps
        // between signatures.
        .target(name: "COpenSSL", path: "Sources/COpenSSL",
                linkerSettings: [.linkedLibrary("crypto")]),
        .target(
            name: "S3Proxy",
            dependencies: ["CShim", "COpenSSL"]
        ),
        .executableTarget(name: "s3p-sign", dependencies: ["S3Proxy"]),
        // The signer micro-benchmark; counts allocations by defining malloc.
        .target(name: "CAllocCounter"),
        .executableTarget(name: "s3p-bench", dependencies: ["S3Proxy", "CShim", "CAllocCounter"]),
        .testTarget(name: "S3ProxyTests", dependencies: ["S3Proxy", "CShim", "COpenSSL"]),
    ]
)
