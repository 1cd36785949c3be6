// The bucket names nginx -t accepts (BucketName.problem): S3's naming
// rules, each broken once.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html

import Testing
@testable import S3Proxy

@Test(arguments: [
    "abc", "my-bucket", "my.bucket.name", "a1b2c3", "123", "1.2.3", "1.2.3.4.5",
    "256.1.1.1a", "xn-abc", "my-s3alias-not", "ol-s3", String(repeating: "a", count: 63),
])
func bucketNamesS3Allows(_ name: String) {
    #expect(BucketName.problem(Array(name.utf8)) == nil)
}

@Test(arguments: [
    ("", "3 to 63 characters"),
    ("ab", "3 to 63 characters"),
    (String(repeating: "a", count: 64), "3 to 63 characters"),
    ("My-Bucket", "uppercase letters or underscores"),
    ("my_bucket", "uppercase letters or underscores"),
    ("my bucket", "a character other than"),
    ("my/bucket", "a character other than"),
    ("-bucket", "begin and end with a letter or digit"),
    ("bucket-", "begin and end with a letter or digit"),
    (".bucket", "begin and end with a letter or digit"),
    ("bucket.", "begin and end with a letter or digit"),
    ("my..bucket", "two adjacent periods"),
    ("192.168.1.1", "formatted as an IP address"),
    ("10.0.0.255", "formatted as an IP address"),
    ("xn--bucket", "begins with \"xn--\""),
    ("sthree-bucket", "begins with \"sthree-\""),
    ("amzn-s3-demo-bucket", "begins with \"amzn-s3-demo-\""),
    ("bucket-s3alias", "ends with \"-s3alias\""),
    ("bucket--ol-s3", "ends with \"--ol-s3\""),
    ("bucket.mrap", "ends with \".mrap\""),
    ("bucket--x-s3", "ends with \"--x-s3\""),
    ("bucket--table-s3", "ends with \"--table-s3\""),
])
func bucketNamesS3Forbids(_ name: String, _ rule: String) throws {
    let problem = try #require(BucketName.problem(Array(name.utf8)))
    #expect(problem.hasPrefix("is not a valid bucket name: "))
    #expect(problem.contains(rule), "\(problem)")
}
