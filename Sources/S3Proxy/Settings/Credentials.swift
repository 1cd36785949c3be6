// Which keys a location signs with, by s3_proxy_credentials: the
// environment, a profile of the shared credentials and config files, or
// (auto) the first of the two that is configured, as the AWS SDKs' default
// chain begins (Chain.swift: the rest of the chain, the providers).

internal import CShim

struct Credentials {
    var accessKey: [UInt8]
    var secretKey: [UInt8]
    var sessionToken: [UInt8]
    /// The profile whose region is a default for the location's region.
    var profile: [UInt8]

    enum Found {
        case found(Credentials)
        case problem(String)
    }

    mutating func wipe() {
        secretKey.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    static func of(_ raw: s3p_settings_t, env: s3p_environment_t, files: SharedFiles)
        -> Found
    {
        let profile = Credentials.profileName(raw, env: env)
        // A role's keys come from STS (Chain.role checks the source's);
        // ENV: keys given, the environment's or the zone's.
        if raw.credentials != S3P_CREDENTIALS_ENV
            && (raw.role.0.len > 0 || (raw.credentials == S3P_CREDENTIALS_PROFILE
                                       && files.value("role_arn", profile: profile) != nil))
        {
            return .found(Credentials(accessKey: [], secretKey: [], sessionToken: [],
                                      profile: profile))
        }
        switch raw.credentials {
        case S3P_CREDENTIALS_ENV:
            return fromEnvironment(env, profile: profile)
        case S3P_CREDENTIALS_PROFILE:
            return fromProfile(profile, files: files)
        case S3P_CREDENTIALS_WEB_IDENTITY, S3P_CREDENTIALS_CONTAINER, S3P_CREDENTIALS_IMDS:
            // A provider's: none yet.  The location's other settings are
            // checked; it signs only with the provider's current ones.
            return .found(Credentials(accessKey: [], secretKey: [], sessionToken: [],
                                      profile: profile))
        default:
            if env.access_key_id.len > 0 || env.secret_access_key.len > 0 {
                return fromEnvironment(env, profile: profile)
            }
            if files.hasKeys(profile: profile) {
                return fromProfile(profile, files: files)
            }
            return .problem("AWS_ACCESS_KEY_ID is empty, and no profile \""
                + String(decoding: profile, as: UTF8.self) + "\" with keys is in "
                + files.credentialsPath + " or " + files.configPath)
        }
    }

    /// The profile a location's settings name: its own, AWS_PROFILE, or
    /// "default".
    static func profileName(_ raw: s3p_settings_t, env: s3p_environment_t) -> [UInt8] {
        let named = Array(Bytes.view(raw.profile))
        return !named.isEmpty ? named
            : env.profile.len > 0 ? Array(Bytes.view(env.profile)) : Array("default".utf8)
    }

    private static func fromEnvironment(_ env: s3p_environment_t, profile: [UInt8]) -> Found {
        let found = Credentials(
            accessKey: Array(Bytes.view(env.access_key_id)),
            secretKey: Array(Bytes.view(env.secret_access_key)),
            sessionToken: Array(Bytes.view(env.session_token)), profile: profile)
        if let problem = found.problem(names: ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                               "AWS_SESSION_TOKEN"), stored: false)
        {
            return .problem(problem)
        }
        return .found(found)
    }

    private static func fromProfile(_ profile: [UInt8], files: SharedFiles) -> Found {
        let name = "profile \"" + String(decoding: profile, as: UTF8.self) + "\""
        guard files.hasProfile(profile) else {
            return .problem(name + " is not in " + files.credentialsPath + " or "
                            + files.configPath)
        }
        let found = Credentials(
            accessKey: files.value("aws_access_key_id", profile: profile) ?? [],
            secretKey: files.value("aws_secret_access_key", profile: profile) ?? [],
            sessionToken: files.value("aws_session_token", profile: profile) ?? [],
            profile: profile)
        if let problem = found.problem(names: (name + ": aws_access_key_id",
                                               name + ": aws_secret_access_key",
                                               name + ": aws_session_token"))
        {
            return .problem(problem)
        }
        return .found(found)
    }

    /// nil when the keys are usable, otherwise a message naming the value.
    private func problem(names: (String, String, String), stored: Bool = true) -> String? {
        guard let (field, reason) = Credentials.unusable(accessKey, secretKey, sessionToken,
                                                         stored: stored)
        else { return nil }
        return (field == 0 ? names.0 : field == 1 ? names.1 : names.2) + " " + reason
    }

    /// Which value of a set the signer refuses (0: the access key id, 1:
    /// the secret key, 2: the session token) and why; nil when it signs
    /// with them.  `issued`: a set an AWS service issued (IMDS, a
    /// container endpoint, STS), whose access key id is A-Z and 0-9 only;
    /// `stored`: a set the shared zone holds (a profile's, a provider's),
    /// within its limits.  The one check of every set, configured or
    /// fetched, before it is used.
    static func unusable(
        _ accessKey: [UInt8], _ secretKey: [UInt8], _ sessionToken: [UInt8],
        issued: Bool = false, stored: Bool = true
    ) -> (Int, String)? {
        if accessKey.isEmpty { return (0, "is empty") }
        if stored && accessKey.count > Int(S3P_ACCESS_KEY_MAX) { return (0, "is too long") }
        if issued, !accessKey.allSatisfy({
            ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || ASCII.isDigit($0)
        }) {
            return (0, "holds a character other than A-Z and 0-9")
        }
        if !accessKey.allSatisfy(Settings.isTokenByte) {
            return (0, "holds a character that is not allowed")
        }
        if secretKey.isEmpty { return (1, "is empty") }
        if stored && secretKey.count > Int(S3P_SECRET_KEY_MAX) { return (1, "is too long") }
        if !secretKey.allSatisfy(Settings.isTokenByte) {
            return (1, "holds a character that is not allowed")
        }
        if stored && sessionToken.count > Int(S3P_SESSION_TOKEN_MAX) {
            return (2, "is too long")
        }
        if !sessionToken.allSatisfy(Settings.isTokenByte) {
            return (2, "holds a character that is not allowed")
        }
        return nil
    }

    /// A profile name as s3_proxy_credentials profile=NAME takes it: what
    /// a section header of the shared files can hold.
    static func profileNameProblem(_ name: UnsafeBufferPointer<UInt8>) -> String? {
        guard !name.isEmpty, name.count <= 128 else {
            return "must be a profile name of 1 to 128 characters"
        }
        for byte in name where !Settings.isTokenByte(byte)
            || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "]")
        {
            return "must be a profile name without spaces or brackets"
        }
        return nil
    }
}

/// The shared credentials and config files, as the AWS CLI reads them: INI
/// sections `[NAME]` in the credentials file and `[profile NAME]` (or
/// `[default]`) in the config file, `key = value` lines; the credentials
/// file wins for keys.
struct SharedFiles {
    let credentials: [Section]
    let config: [Section]
    let credentialsPath: String
    let configPath: String

    struct Section {
        var name: [UInt8]
        var values: [([UInt8], [UInt8])]
    }

    init(_ env: s3p_environment_t) {
        credentials = SharedFiles.parse(Bytes.view(env.credentials_file), config: false)
        config = SharedFiles.parse(Bytes.view(env.config_file), config: true)
        credentialsPath = env.credentials_path.len > 0
            ? String(decoding: Bytes.view(env.credentials_path), as: UTF8.self)
            : "the shared credentials file"
        configPath = env.config_path.len > 0
            ? String(decoding: Bytes.view(env.config_path), as: UTF8.self)
            : "the shared config file"
    }

    func hasProfile(_ profile: [UInt8]) -> Bool {
        credentials.contains { $0.name == profile } || config.contains { $0.name == profile }
    }

    /// Whether the credentials file alone gives the profile's key id.
    func keysInCredentialsFile(profile: [UInt8]) -> Bool {
        SharedFiles.lookup("aws_access_key_id", profile: profile, in: credentials) != nil
    }

    func hasKeys(profile: [UInt8]) -> Bool {
        value("aws_access_key_id", profile: profile) != nil
    }

    /// A key's value in the credentials file, else in the config file.
    func value(_ key: String, profile: [UInt8]) -> [UInt8]? {
        SharedFiles.lookup(key, profile: profile, in: credentials)
            ?? SharedFiles.lookup(key, profile: profile, in: config)
    }

    /// A key's value in the config file only (as `region`).
    func configValue(_ key: String, profile: [UInt8]) -> [UInt8]? {
        SharedFiles.lookup(key, profile: profile, in: config)
    }

    private static func lookup(_ key: String, profile: [UInt8], in sections: [Section])
        -> [UInt8]?
    {
        let wanted = Array(key.utf8)
        var found: [UInt8]? = nil
        for section in sections where section.name == profile {
            for (name, value) in section.values where name == wanted {
                found = value
            }
        }
        return found.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The sections of an INI file: comments (`#`, `;`) and blank lines
    /// skipped, keys lowercased, values trimmed; indented lines continue a
    /// nested value (`s3 =` and its settings) and are not keys of the
    /// profile.  In the config file, `[profile NAME]` is profile NAME.
    static func parse(_ text: UnsafeBufferPointer<UInt8>, config: Bool) -> [Section] {
        var sections: [Section] = []
        var start = 0
        while start < text.count {
            var end = start
            while end < text.count && text[end] != UInt8(ascii: "\n") { end += 1 }
            let line = Array(text[start..<end])
            start = end + 1
            let indented = line.first == UInt8(ascii: " ") || line.first == UInt8(ascii: "\t")
            let trimmed = SharedFiles.trim(line[...])
            if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#")
                || trimmed.first == UInt8(ascii: ";") || indented
            {
                continue
            }
            if trimmed.first == UInt8(ascii: "[") {
                guard trimmed.last == UInt8(ascii: "]") else { continue }
                var name = SharedFiles.trim(trimmed.dropFirst().dropLast())
                if config {
                    let word = Array("profile".utf8)
                    if name.count > word.count && name.starts(with: word)
                        && (name[name.startIndex + word.count] == UInt8(ascii: " ")
                            || name[name.startIndex + word.count] == UInt8(ascii: "\t"))
                    {
                        name = SharedFiles.trim(name.dropFirst(word.count))
                    } else if name.elementsEqual(Array("default".utf8)) == false {
                        // `[NAME]` in the config file is not a profile.
                        sections.append(Section(name: [0], values: []))
                        continue
                    }
                }
                sections.append(Section(name: Array(name), values: []))
                continue
            }
            guard !sections.isEmpty,
                  let equals = trimmed.firstIndex(where: {
                      $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ":")
                  })
            else {
                continue
            }
            let key = ASCII.lowercased(Array(SharedFiles.trim(trimmed[..<equals])))
            let value = Array(SharedFiles.trim(trimmed[(equals + 1)...]))
            sections[sections.count - 1].values.append((key, value))
        }
        return sections
    }

    private static func trim(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 0x20 || first == 0x09 || first == 0x0d {
            slice = slice.dropFirst()
        }
        while let last = slice.last, last == 0x20 || last == 0x09 || last == 0x0d {
            slice = slice.dropLast()
        }
        return slice
    }
}
