// What one location lets clients reach, read straight from its
// configuration (s3p_config_t, which C owns and nobody writes once nginx
// has read it).

internal import CShim

struct LocationPolicy {
    let conf: UnsafePointer<s3p_config_t>

    /// Bucket names compare exactly: S3 bucket names are case-sensitive, so
    /// `/OK/` is not `/ok/`.  No list: any bucket.
    func allows(bucket: UnsafeBufferPointer<UInt8>) -> Bool {
        Bytes.list(conf.pointee.buckets, conf.pointee.nbuckets).isEmpty
            || place(of: bucket) != nil
    }

    /// Where `bucket` is in the allowlist, if it is there.
    func place(of bucket: UnsafeBufferPointer<UInt8>) -> Int? {
        let list = Bytes.list(conf.pointee.buckets, conf.pointee.nbuckets)
        for (index, entry) in list.enumerated() where Bytes.view(entry).elementsEqual(bucket) {
            return index
        }
        return nil
    }

    /// A prefix location's prefix: the client's path begins with it, and
    /// the S3 path is what follows.  Empty: the whole path.
    var mount: UnsafeBufferPointer<UInt8> { Bytes.view(conf.pointee.mount) }

    /// The location's own bucket (s3_proxy_bucket), or nil: the path's
    /// first segment names the bucket.
    var bucket: UnsafeBufferPointer<UInt8>? {
        conf.pointee.bucket.len > 0 ? Bytes.view(conf.pointee.bucket) : nil
    }

    /// Whether s3_proxy_bucket has variables: each request brings its
    /// value (IncomingRequest.bucket).
    var bucketPerRequest: Bool {
        conf.pointee.per_request & UInt32(S3P_PER_REQUEST_BUCKET) != 0
    }

    /// Whether s3_proxy_prefix has variables: each request brings its
    /// value (IncomingRequest.prefix).
    var prefixPerRequest: Bool {
        conf.pointee.per_request & UInt32(S3P_PER_REQUEST_PREFIX) != 0
    }

    /// The constant key prefix (s3_proxy_prefix); empty: none.
    var prefix: UnsafeBufferPointer<UInt8> { Bytes.view(conf.pointee.prefix) }

    /// Whether S3 can be asked for `bucket` the way the location addresses
    /// it: with virtual addressing the name becomes part of a host name.
    func addresses(bucket: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let signing = conf.pointee.signing,
              signing.pointee.addressing == S3P_ADDRESSING_VIRTUAL
        else {
            return true
        }
        return BucketName.hostProblem(bucket, signing.pointee) == nil
    }

    /// Query parameters the operator allowed besides the listing ones.
    func allows(parameter name: UnsafeBufferPointer<UInt8>) -> Bool {
        for entry in Bytes.list(conf.pointee.params, conf.pointee.nparams)
            where Bytes.view(entry).elementsEqual(name)
        {
            return true
        }
        return false
    }

    /// Query parameters the operator has dropped (s3_proxy_ignore_params):
    /// cache busters such as `v` or `_`, never signed or forwarded.
    func ignores(parameter name: UnsafeBufferPointer<UInt8>) -> Bool {
        for entry in Bytes.list(conf.pointee.ignore_params, conf.pointee.nignore_params)
            where Bytes.view(entry).elementsEqual(name)
        {
            return true
        }
        return false
    }

    /// Whether `request`, for the location's mount without its final `/`
    /// (`/eu` of `location /eu/`), is an S3 client's request at the root
    /// of the location's one bucket, as SDKs address a bucket path-style:
    /// ListObjectsV2 and V1 (`GET /eu?list-type=2...`), HeadBucket (`HEAD
    /// /eu`).  Then it is answered as the mount's root, whose routing
    /// checks its query like any other; a browser, or a location without
    /// its own bucket, keeps nginx's 301 to the mount.
    func isBucketRoot(_ request: IncomingRequest) -> Bool {
        let mount = self.mount
        guard bucket != nil || bucketPerRequest, request.methodName != nil,
              mount.count >= 2, mount.last == UInt8(ascii: "/"),
              request.path.count + 1 == mount.count,
              request.path.elementsEqual(mount.prefix(request.path.count))
        else {
            return false
        }
        return streams(request)
    }

    /// Whether this client gets objects streamed: an S3 client, known by
    /// its User-Agent, by sending none, or by signing its request as S3
    /// clients do (Rules.isS3Signed).
    func streams(_ request: IncomingRequest) -> Bool {
        let agent = request.userAgent
        switch conf.pointee.stream {
        case S3P_STREAM_OFF:
            return false
        case S3P_STREAM_LIST:
            let match = conf.pointee.stream_match
            if match & UInt32(S3P_STREAM_NO_AGENT) != 0 && agent.isEmpty { return true }
            if match & UInt32(S3P_STREAM_SIGNED) != 0 && Rules.isS3Signed(request) {
                return true
            }
            for entry in Bytes.list(conf.pointee.stream_agents,
                                    conf.pointee.nstream_agents)
                where ASCII.containsIgnoringCase(agent, Bytes.view(entry))
            {
                return true
            }
            return false
        default:
            if agent.isEmpty || Rules.isS3Signed(request) { return true }
            for pattern in Rules.sdkAgents {
                let found = pattern.withUTF8Buffer {
                    ASCII.containsIgnoringCase(agent, $0)
                }
                if found { return true }
            }
            return false
        }
    }

    /// The page a folder serves.
    var index: UnsafeBufferPointer<UInt8> {
        let index = conf.pointee.index
        if index.len > 0 { return Bytes.view(index) }
        return Rules.defaultIndex.withUTF8Buffer { $0 }
    }

    /// Whether a folder without an index page gets the built-in listing.
    var listings: Bool { conf.pointee.listings != 0 }
}

// Websites (issue 23): what browsers get in a location.
extension LocationPolicy {
    var website: Bool { conf.pointee.website != 0 }

    /// Types from nginx's "types" on answers to browsers (s3_proxy_types).
    var types: Bool { conf.pointee.types != 0 }

    /// The query parameter of download links, or nil (off).
    var downloadParameter: UnsafeBufferPointer<UInt8>? {
        let name = Bytes.view(conf.pointee.download)
        if name.isEmpty { return Rules.downloadParameter.withUTF8Buffer { $0 } }
        return Rules.off.matches(name) ? nil : name
    }

    /// The error document's key, or nil.
    var errorDocument: UnsafeBufferPointer<UInt8>? {
        conf.pointee.error_document.len > 0 ? Bytes.view(conf.pointee.error_document) : nil
    }

    /// The status of the error document's answers; 0: S3's.
    var errorStatus: Int32 { conf.pointee.error_status }

    /// Whether objects of this type are proxied, not redirected: the
    /// types of s3_proxy_proxy_types, or with website on "text/html".
    /// Types compare without their parameters, in any case.
    func proxies(type: UnsafeBufferPointer<UInt8>) -> Bool {
        let bare = Rules.bareType(type)
        let list = Bytes.list(conf.pointee.proxy_types, conf.pointee.nproxy_types)
        if list.isEmpty {
            return website && Rules.defaultProxyType.withUTF8Buffer {
                ASCII.equalsIgnoringCase(bare, $0)
            }
        }
        for entry in list where ASCII.equalsIgnoringCase(bare, Rules.bareType(Bytes.view(entry))) {
            return true
        }
        return false
    }

    /// Whether any type is proxied: the type of a key is then looked up.
    var proxiesTypes: Bool { website || conf.pointee.nproxy_types > 0 }

    /// The type nginx's "types" give the key's extension (its
    /// "default_type" when none matches), or nil when the location has
    /// no lookup or the type is not a safe header value of at most
    /// S3P_TYPE_MAX bytes.
    func type(of key: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        guard let lookup = conf.pointee.type else { return nil }
        let ext = Rules.fileExtension(of: key)
        // nginx's "types" hash holds lowercase extensions: none is longer
        // than S3P_TYPE_EXT_MAX, so a longer one is looked up as none.
        let max = Int(S3P_TYPE_EXT_MAX)
        let type = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max) { lower in
            let count = ext.count <= max ? ext.count : 0
            for i in 0..<count { lower[i] = ASCII.lowercased(ext[i]) }
            return Bytes.view(lookup(conf.pointee.type_data, lower.baseAddress, count))
        }
        guard !type.isEmpty, type.count <= Int(S3P_TYPE_MAX), ASCII.isPrintable(type) else {
            return nil
        }
        return type
    }
}
