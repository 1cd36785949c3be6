// One page of a ListObjectsV2 answer, read from S3's XML:
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
//
// Read with XMLReader: the elements a listing page holds (Contents/Key,
// Size, LastModified; CommonPrefixes/Prefix; IsTruncated;
// NextContinuationToken), everything else ignored.  Malformed or
// truncated input yields what was read before, never a trap.

internal import CShim

struct ListingPage {
    struct Object {
        var key: [UInt8] = []
        var size: [UInt8] = []
        var lastModified: [UInt8] = []
    }

    var folders: [[UInt8]] = []
    var objects: [Object] = []
    var isTruncated = false
    var nextToken: [UInt8] = []

    var isEmpty: Bool { folders.isEmpty && objects.isEmpty }

    init(xml: UnsafeBufferPointer<UInt8>) {
        var reader = XMLReader(xml)
        var object = Object()
        while true {
            let event = reader.next()
            // What a page holds sits at depth 2 (below the root) and 3.
            let inRoot = reader.depth == 2 && reader.parent == ListingPage.root
            let inEntry = reader.depth == 3
            switch event {
            case .start:
                if reader.depth == 1 && !reader.isNamed("ListBucketResult") { return }
                if inRoot && reader.isNamed("Contents") { object = Object() }
            case .end(let value):
                if inEntry && reader.at("Key", in: "Contents") {
                    object.key = value
                } else if inEntry && reader.at("Size", in: "Contents") {
                    object.size = value
                } else if inEntry && reader.at("LastModified", in: "Contents") {
                    object.lastModified = value
                } else if inEntry && reader.at("Prefix", in: "CommonPrefixes") {
                    if hasRoom { folders.append(value) }
                } else if inRoot && reader.isNamed("Contents") {
                    if hasRoom { objects.append(object) }
                } else if inRoot && reader.isNamed("IsTruncated") {
                    isTruncated = XMLReader.same(value, "true")
                } else if inRoot && reader.isNamed("NextContinuationToken") {
                    nextToken = value
                }
            case .finished, .truncated, .malformed:
                return
            }
        }
    }

    /// Keeps the folders and objects below a key prefix (s3_proxy_prefix),
    /// without it; the prefix's own marker object goes, as it is no key of
    /// the client's.
    mutating func confine(to prefix: [UInt8]) {
        guard !prefix.isEmpty else { return }
        folders = folders.filter { $0.count > prefix.count && $0.starts(with: prefix) }
            .map { Array($0.dropFirst(prefix.count)) }
        objects = objects.filter { $0.key.count > prefix.count && $0.key.starts(with: prefix) }
            .map { object in
                var relative = object
                relative.key = Array(object.key.dropFirst(prefix.count))
                return relative
            }
    }

    private static let root = Array("ListBucketResult".utf8)

    /// No more entries than one page can show are kept.
    private var hasRoom: Bool {
        folders.count + objects.count < Int(S3P_LISTING_ROWS) + 1
    }
}
