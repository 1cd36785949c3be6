// The $s3_proxy_* variables (Variable, s3p_variable): their table and the
// value each takes for a request.
//
// Source of the expectations: README's "Embedded variables", and nginx's
// proxy_cache (proxy_cache_convert_head turns a HEAD into a GET;
// proxy_cache_revalidate sends the cached Last-Modified and ETag).

import CShim
import Testing
@testable import S3Proxy

private func str(_ s: StaticString) -> s3p_str_t {
    s3p_str_t(len: s.utf8CodeUnitCount, data: s.utf8Start)
}

private func text(_ s: s3p_str_t) -> String {
    String(decoding: UnsafeBufferPointer(start: s.data, count: s.len), as: UTF8.self)
}

/// The value of variable `name` for `request`, and whether it is nginx's.
private func value(_ name: String, _ request: s3p_variable_t) -> (String, Bool) {
    var index: UInt32 = 0
    var found = s3p_str_t(), flags: UInt32 = 0
    while s3p_variable_name(index, &found, &flags) != 0 && text(found) != name {
        index += 1
    }
    var request = request
    request.index = index
    var out = s3p_str_t()
    let alloc: s3p_alloc_t = { _, size in UnsafeMutablePointer<UInt8>.allocate(capacity: max(size, 1)) }
    let rc = s3p_variable(&request, alloc, nil, &out)
    #expect(rc == S3P_OK || rc == S3P_VARIABLE_NGINX)
    return (text(out), rc == S3P_VARIABLE_NGINX)
}

private func proxied(_ action: s3p_action_t = S3P_ACTION_PROXY) -> UnsafeMutablePointer<s3p_result_t> {
    let result = UnsafeMutablePointer<s3p_result_t>.allocate(capacity: 1)
    result.initialize(to: s3p_result_t())
    result.pointee.action = action
    result.pointee.url = str("http://s3.test/b/k")
    result.pointee.authorization = str("AWS4-HMAC-SHA256 head")
    result.pointee.get_authorization = str("AWS4-HMAC-SHA256 get")
    result.pointee.cache_key = str("http://s3.test/b/k us-east-1 env:1 s3")
    result.pointee.bucket = str("b")
    return result
}

@Test func theTableNamesEachVariableOnceWithItsFlags() {
    var names: [String] = []
    var unhashed: [String] = []
    var name = s3p_str_t(), flags: UInt32 = 0
    while s3p_variable_name(UInt32(names.count), &name, &flags) != 0 {
        names.append(text(name))
        if flags & UInt32(S3P_VARIABLE_NOHASH) != 0 { unhashed.append(text(name)) }
    }
    #expect(names.count == 22 && Set(names).count == names.count)
    #expect(names.allSatisfy { $0.hasPrefix("s3_proxy_") })
    #expect(unhashed == ["s3_proxy_url", "s3_proxy_authorization", "s3_proxy_date",
                         "s3_proxy_host", "s3_proxy_checksum_mode",
                         "s3_proxy_content_sha256", "s3_proxy_security_token"])
}

@Test func theConstantsAreTheHeaders() {
    #expect(Variable.emptySHA256.description == S3P_EMPTY_PAYLOAD_SHA256)
    #expect(Variable.environment.description == S3P_CREDENTIALS_ENV_NAME)
}

@Test func signedValuesAreAProxiedRequestsOnly() {
    var r = s3p_variable_t()
    #expect(value("s3_proxy_url", r).0 == "")
    #expect(value("s3_proxy_action", r).0 == "")
    r.result = UnsafePointer(proxied(S3P_ACTION_REDIRECT))
    #expect(value("s3_proxy_url", r).0 == "")
    #expect(value("s3_proxy_bucket", r).0 == "b")
    #expect(value("s3_proxy_action", r).0 == "redirect")
    r.result = UnsafePointer(proxied())
    #expect(value("s3_proxy_url", r).0 == "http://s3.test/b/k")
    #expect(value("s3_proxy_action", r).0 == "proxy")
    #expect(value("s3_proxy_request_id", r) == ("upstream_http_x_amz_request_id", true))
}

@Test func aHeadFetchedAsAGetIsSignedAndKeyedAsTheGet() {
    var r = s3p_variable_t()
    r.result = UnsafePointer(proxied())
    r.method = str("HEAD")
    #expect(value("s3_proxy_authorization", r).0 == "AWS4-HMAC-SHA256 head")
    #expect(value("s3_proxy_cache_key", r).0 == "HEAD http://s3.test/b/k us-east-1 env:1 s3")
    r.upstream_method = str("GET")
    #expect(value("s3_proxy_authorization", r).0 == "AWS4-HMAC-SHA256 get")
    #expect(value("s3_proxy_cache_key", r).0 == "GET http://s3.test/b/k us-east-1 env:1 s3")
}

@Test func theClientsConditionalsGoToS3UnlessTheAnswerMayBeCached() {
    var r = s3p_variable_t()
    r.headers.1 = str("\"etag\"")
    r.headers.3 = str("\"other\"")
    #expect(value("s3_proxy_if_range", r).0 == "\"etag\"")
    #expect(value("s3_proxy_if_none_match", r).0 == "\"other\"")
    #expect(value("s3_proxy_range", r).0 == "")
    r.cacheable = 1
    #expect(value("s3_proxy_if_range", r).0 == "")
    #expect(value("s3_proxy_if_none_match", r) == ("upstream_cache_etag", true))
    #expect(value("s3_proxy_if_modified_since", r) == ("upstream_cache_last_modified", true))
    r.cacheable = 0
    let document = proxied()
    document.pointee.render = S3P_RENDER_DOCUMENT
    r.result = UnsafePointer(document)
    #expect(value("s3_proxy_if_range", r).0 == "")
}

@Test func credentialsForTheLogOfRequestsNotRefused() {
    var r = s3p_variable_t()
    let signing = UnsafeMutablePointer<s3p_signing_t>.allocate(capacity: 1)
    signing.initialize(to: s3p_signing_t())
    signing.pointee.session_token = str("token")
    #expect(value("s3_proxy_content_sha256", r).0 == "")
    r.signing = UnsafePointer(signing)
    #expect(value("s3_proxy_content_sha256", r).0 == S3P_EMPTY_PAYLOAD_SHA256)
    #expect(value("s3_proxy_security_token", r).0 == "token")
    r.result = UnsafePointer(proxied(S3P_ACTION_REFUSE))
    #expect(value("s3_proxy_credentials_source", r).0 == "")
    r.result = UnsafePointer(proxied(S3P_ACTION_REDIRECT))
    r.expiration = Int64(S3P_NEVER)
    #expect(value("s3_proxy_credentials_source", r).0 == "env")
    #expect(value("s3_proxy_credentials_expires", r).0 == "")
    r.source = str("imds")
    #expect(value("s3_proxy_credentials_source", r).0 == "imds")
    #expect(value("s3_proxy_credentials_expires", r).0 == "")
    r.now = 1_000
    r.expiration = 4_600
    #expect(value("s3_proxy_credentials_expires", r).0 == "3600")
    r.expiration = 10
    #expect(value("s3_proxy_credentials_expires", r).0 == "0")
}
