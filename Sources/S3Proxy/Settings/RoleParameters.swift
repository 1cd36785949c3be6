// What `s3_proxy_credentials SOURCE role=ARN [external_id=ID]
// [session_name=NAME] [duration=TIME]` and a profile's role_arn,
// external_id, role_session_name and duration_seconds may hold, by STS's
// rules (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html):
//
//   RoleArn          arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, the
//                    partition "aws" or "aws-..."; 12 digits; a role name
//                    and path of [\w+=,.@-] (and "/")
//   ExternalId       2 to 1224 of [\w+=,.@:/-]
//   RoleSessionName  2 to 64 of [\w+=,.@-]
//   DurationSeconds  900 to 43200

internal import CShim

enum RoleParameters {
    static let names: [StaticString] = ["role", "external_id", "session_name", "duration"]

    /// Why `value` cannot be parameter `index` (S3P_ROLE_*), or nil.
    static func problem(_ index: Int, _ value: [UInt8]) -> String? {
        switch index {
        case Int(S3P_ROLE_ARN):
            return arnProblem(value)
        case Int(S3P_ROLE_EXTERNAL_ID):
            return (2...1224).contains(value.count)
                && value.allSatisfy({ word($0) || ":/".utf8.contains($0) }) ? nil
                : "must be 2 to 1224 letters, digits or any of _+=,.@:/-"
        case Int(S3P_ROLE_SESSION_NAME):
            return (2...64).contains(value.count) && value.allSatisfy(word) ? nil
                : "must be 2 to 64 letters, digits or any of _+=,.@-"
        default:
            guard let seconds = duration(value) else {
                return "must be a time (900, 900s, 15m, 1h)"
            }
            return (900...43200).contains(seconds) ? nil
                : "must be between 900 s (15m) and 43200 s (12h)"
        }
    }

    /// `[\w+=,.@-]`: what IAM names and session names consist of.
    private static func word(_ byte: UInt8) -> Bool {
        ASCII.isAlphanumeric(byte) || "_+=,.@-".utf8.contains(byte)
    }

    private static func arnProblem(_ arn: [UInt8]) -> String? {
        let why = "is not a role ARN (arn:aws:iam::123456789012:role/NAME)"
        let parts = arn.split(separator: UInt8(ascii: ":"), maxSplits: 5,
                              omittingEmptySubsequences: false)
        guard parts.count == 6, Array(parts[0]) == Array("arn".utf8),
              Array(parts[1]) == Array("aws".utf8)
                || (parts[1].starts(with: Array("aws-".utf8)) && parts[1].count > 4
                    && parts[1].allSatisfy { ASCII.isLowercaseAlphanumeric($0)
                        || $0 == UInt8(ascii: "-") }),
              Array(parts[2]) == Array("iam".utf8), parts[3].isEmpty,
              parts[4].count == 12, parts[4].allSatisfy(ASCII.isDigit)
        else { return why }
        let resource = parts[5]
        let prefix = Array("role/".utf8)
        guard resource.starts(with: prefix) else { return why }
        let path = resource.dropFirst(prefix.count)
        guard !path.isEmpty, path.count <= 576, path.last != UInt8(ascii: "/"),
              path.first != UInt8(ascii: "/"),
              path.allSatisfy({ word($0) || $0 == UInt8(ascii: "/") }),
              let name = path.split(separator: UInt8(ascii: "/")).last, name.count <= 64
        else { return why }
        return nil
    }

    /// An nginx time (`900`, `900s`, `15m`, `1h30m`) in seconds, or nil.
    static func duration(_ value: [UInt8]) -> Int64? {
        var total: Int64 = 0
        var number: Int64 = -1
        for byte in value {
            if ASCII.isDigit(byte) {
                number = max(number, 0) * 10 + Int64(byte - UInt8(ascii: "0"))
                guard number < 1_000_000 else { return nil }
                continue
            }
            guard number >= 0 else { return nil }
            switch byte {
            case UInt8(ascii: "s"): total += number
            case UInt8(ascii: "m"): total += number * 60
            case UInt8(ascii: "h"): total += number * 3600
            default: return nil
            }
            number = -1
        }
        if number >= 0 { total += number }
        return value.isEmpty ? nil : total
    }
}
