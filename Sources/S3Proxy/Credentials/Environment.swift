// The environment variables the core reads, by their place in
// s3p_environment_t (CShim/include/s3_proxy_core.h): C reads each once
// and wipes its copies with the configuration.  And where the shared
// credentials and config files are, as the AWS CLI finds them.

internal import CShim

enum Environment {
    /// In the order of s3p_environment_t's first S3P_ENV_VARIABLES fields.
    static let names: [StaticString] = [
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_HOST", "AWS_ENDPOINT_SCHEME",
        "AWS_ENDPOINT_HOST_EXTERNAL", "AWS_ENDPOINT_SCHEME_EXTERNAL",
        "S3_PROXY_BUCKETS", "HOME",
        "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
        "AWS_ENDPOINT_URL_STS",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_V1_DISABLED",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_CA_BUNDLE",
    ]

    /// The shared credentials file and config file: the variable's path
    /// (a leading "~/" is HOME), else HOME's .aws/credentials and
    /// .aws/config; each written NUL-terminated.
    static func paths(_ env: inout s3p_environment_t, into writer: inout BufferWriter) {
        let home = Bytes.view(env.home)
        env.credentials_path = path(Bytes.view(env.credentials_file_name), home: home,
                                    default: "/.aws/credentials", into: &writer)
        env.config_path = path(Bytes.view(env.config_file_name), home: home,
                               default: "/.aws/config", into: &writer)
    }

    private static func path(
        _ named: UnsafeBufferPointer<UInt8>, home: UnsafeBufferPointer<UInt8>,
        default below: StaticString, into writer: inout BufferWriter
    ) -> s3p_str_t {
        let start = writer.count
        if !named.isEmpty {
            if named.count >= 2 && named[0] == UInt8(ascii: "~") && named[1] == UInt8(ascii: "/")
                && !home.isEmpty
            {
                writer.write(home)
                writer.write(UnsafeBufferPointer(rebasing: named[1...]))
            } else {
                writer.write(named)
            }
        } else if !home.isEmpty {
            writer.write(home)
            writer.write(below)
        } else {
            return s3p_str_t(len: 0, data: nil)
        }
        let end = writer.count
        writer.write(0)
        return writer.str(start, end)
    }

    /// "true", in any case: how the SDKs read a flag.
    static func isTrue(_ s: s3p_str_t) -> Bool {
        ASCII.equalsIgnoringCase(Bytes.view(s), "true")
    }
}
