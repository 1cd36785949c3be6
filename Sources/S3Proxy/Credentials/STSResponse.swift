// STS's AssumeRoleWithWebIdentityResponse and AssumeRoleResponse
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html):
//
//   <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
//     <AssumeRoleWithWebIdentityResult>
//       <Credentials>
//         <SessionToken>...</SessionToken>
//         <SecretAccessKey>...</SecretAccessKey>
//         <Expiration>2026-12-01T09:00:00Z</Expiration>
//         <AccessKeyId>ASIA...</AccessKeyId>
//       </Credentials> ...
//
// and its ErrorResponse (<Error><Code>...</Code>), read with XMLReader.

struct STSResponse {
    var accessKey: [UInt8]?
    var secretKey: [UInt8]?
    var sessionToken: [UInt8]?
    var expiration: [UInt8]?
    var errorCode: [UInt8]?
    /// The root element's name: AssumeRoleWithWebIdentityResponse,
    /// AssumeRoleResponse (the same Credentials, one level down), or else.
    var root: [UInt8] = []

    init(_ xml: [UInt8]) {
        var found = STSResponse()
        xml.withUnsafeBufferPointer { xml in
            var reader = XMLReader(xml)
            while true {
                switch reader.next() {
                case .start:
                    if reader.depth == 1 {
                        if reader.isNamed("AssumeRoleWithWebIdentityResponse") {
                            found.root = Array("AssumeRoleWithWebIdentityResponse".utf8)
                        } else if reader.isNamed("AssumeRoleResponse") {
                            found.root = Array("AssumeRoleResponse".utf8)
                        }
                    }
                case .end(let value):
                    if reader.depth == 4 && reader.at("AccessKeyId", in: "Credentials") {
                        found.accessKey = value
                    } else if reader.depth == 4
                        && reader.at("SecretAccessKey", in: "Credentials")
                    {
                        found.secretKey = value
                    } else if reader.depth == 4 && reader.at("SessionToken", in: "Credentials") {
                        found.sessionToken = value
                    } else if reader.depth == 4 && reader.at("Expiration", in: "Credentials") {
                        found.expiration = value
                    } else if reader.at("Code", in: "Error") {
                        found.errorCode = value
                    }
                case .finished, .truncated, .malformed:
                    return
                }
            }
        }
        self = found
    }

    private init() {}
}
