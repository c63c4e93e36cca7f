import MapSchema
import Testing

@Suite("SHA-256 content hashes (swift-crypto)")
struct ContentHashTests {
    @Test(
        "Known vectors of FIPS 180-4 and NIST hash to their published digests",
        arguments: [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
            ("The quick brown fox jumps over the lazy dog", "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
        ]
    )
    func knownVectors(_ input: String, _ digest: String) {
        #expect(ContentHash.sha256Hex(Array(input.utf8)) == digest)
    }

    @Test("A million 'a' bytes hash to the published digest (multi-block input)")
    func millionA() {
        #expect(
            ContentHash.sha256Hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("Inputs around the padding boundary (55, 56, 63, 64 bytes) hash differently and to 64 hex digits")
    func paddingBoundaries() {
        let digests = [55, 56, 63, 64, 65].map { ContentHash.sha256Hex([UInt8](repeating: 0x61, count: $0)) }
        #expect(Set(digests).count == 5)
        #expect(digests.allSatisfy { $0.count == 64 })
        #expect(digests[1] == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
    }

    @Test("The raw digest is 32 bytes and spells the hex digest")
    func rawDigestMatchesHex() {
        let digest = ContentHash.sha256(Array("abc".utf8))
        #expect(digest.count == 32)
        #expect(digest.prefix(4) == [0xba, 0x78, 0x16, 0xbf])
        let spelled = digest.map { byte in String(byte >> 4, radix: 16) + String(byte & 0x0f, radix: 16) }.joined()
        #expect(spelled == ContentHash.sha256Hex(Array("abc".utf8)))
    }

    @Test("A schema's content hash is the SHA-256 of its canonical form")
    func schemaContentHash() throws {
        let yaml = "name: users\nversion: 1.0.0\nkey_type: string\nvalue_type: string\n"
        let document = try #require(SchemaDecoder().decode(Array(yaml.utf8), file: "users.yaml").documents.first)
        #expect(document.contentSHA256 == ContentHash.sha256Hex(Array(document.schema.canonicalForm.utf8)))
        #expect(document.contentSHA256 == document.schema.contentSHA256)
    }
}
