import Testing

@testable import MapServer

@Suite struct PercentEncodingTests {
    @Test func decodesEscapesAndKeepsPlus() {
        #expect(PercentEncoding.decode("user%2F1") == "user/1")
        #expect(PercentEncoding.decode("a+b") == "a+b")
        #expect(PercentEncoding.decode("caf%C3%A9") == "café")
    }

    @Test func rejectsMalformedEscapesAndNonUTF8() {
        #expect(PercentEncoding.decode("bad%2") == nil)
        #expect(PercentEncoding.decode("bad%zz") == nil)
        #expect(PercentEncoding.decode("%FF%FE") == nil)
    }

    @Test(arguments: ["plain", "with space", "slash/and?query#frag", "ünïcødé", "%percent"])
    func encodeThenDecodeGivesTheKeyBack(key: String) {
        #expect(PercentEncoding.decode(PercentEncoding.encode(key)) == key)
    }
}
