import Foundation
import Testing

@testable import MapServer

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct APITokenTests {
    @Test func theFirstStartMakesA0600TokenFileAndLaterStartsReadIt() throws {
        let state = try TemporaryDirectory()
        let stateDirectory = state.path + "/nested/state"
        let token = try APIToken.loadOrCreate(stateDirectory: stateDirectory)
        #expect(token.value.count == 64)
        #expect(token.value.allSatisfy { $0.isHexDigit && !$0.isUppercase })

        var info = stat()
        #expect(stat(stateDirectory + "/token", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let contents = try String(contentsOfFile: stateDirectory + "/token", encoding: .utf8)
        #expect(contents == token.value + "\n")

        let again = try APIToken.loadOrCreate(stateDirectory: stateDirectory)
        #expect(again == token)
    }

    @Test func aTokenFileWithWidePermissionsIsRefused() throws {
        let state = try TemporaryDirectory()
        try "abc123\n".write(toFile: state.path + "/token", atomically: false, encoding: .utf8)
        for mode: mode_t in [0o644, 0o640, 0o604, 0o660, 0o602] {
            chmod(state.path + "/token", mode)
            let error = #expect(throws: APITokenError.self) { try APIToken.loadOrCreate(stateDirectory: state.path) }
            #expect(error?.message.contains("has mode 0\(String(mode, radix: 8))") == true, "\(String(describing: error))")
            #expect(error?.message.contains("chmod 600") == true)
            var info = stat()
            stat(state.path + "/token", &info)
            #expect(info.st_mode & 0o777 == mode, "a refused file is left as it was")
        }
        chmod(state.path + "/token", 0o600)
        #expect(try APIToken.loadOrCreate(stateDirectory: state.path).value == "abc123")
        chmod(state.path + "/token", 0o400)
        #expect(try APIToken.loadOrCreate(stateDirectory: state.path).value == "abc123")
    }

    @Test func aSymlinkAtTheTokenPathIsRefusedAndItsTargetLeftAlone() throws {
        let state = try TemporaryDirectory()
        let elsewhere = try TemporaryDirectory()
        let target = elsewhere.path + "/precious"
        try "not a token, readable by all\n".write(toFile: target, atomically: false, encoding: .utf8)
        chmod(target, 0o644)
        #expect(symlink(target, state.path + "/token") == 0)
        let error = #expect(throws: APITokenError.self) { try APIToken.loadOrCreate(stateDirectory: state.path) }
        #expect(error?.message.contains("symbolic link") == true, "\(String(describing: error))")
        var info = stat()
        #expect(stat(target, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o644, "the link's target must not be chmod'ed")

        // A dangling link is refused too, and nothing is created through it.
        let dangling = try TemporaryDirectory()
        #expect(symlink(elsewhere.path + "/absent", dangling.path + "/token") == 0)
        #expect(throws: APITokenError.self) { try APIToken.loadOrCreate(stateDirectory: dangling.path) }
        #expect(access(elsewhere.path + "/absent", F_OK) != 0)
    }

    @Test func aFIFOAtTheTokenPathIsRefusedWithoutHanging() throws {
        let state = try TemporaryDirectory()
        #expect(mkfifo(state.path + "/token", 0o600) == 0)
        let error = #expect(throws: APITokenError.self) { try APIToken.loadOrCreate(stateDirectory: state.path) }
        #expect(error?.message.contains("not a regular file") == true)
    }

    @Test func tokensAreRandom() {
        #expect(APIToken.random() != APIToken.random())
    }

    @Test func matchingIsExact() {
        let token = APIToken("s3cret")
        #expect(token.matches("s3cret"))
        #expect(!token.matches("s3cre"))
        #expect(!token.matches("s3cret!"))
        #expect(!token.matches("S3cret"))
        #expect(!token.matches(""))
        #expect("\(token)".contains("s3cret") == false)
    }

    @Test func theAuthorizationPolicyFollowsTheListenAddress() {
        let token = APIToken("t")
        #expect(!APIAuthorization(token: token, listeningOn: "127.0.0.1").requiresTokenForAll)
        #expect(!APIAuthorization(token: token, listeningOn: "127.0.0.53").requiresTokenForAll)
        #expect(!APIAuthorization(token: token, listeningOn: "::1").requiresTokenForAll)
        #expect(!APIAuthorization(token: token, listeningOn: "localhost").requiresTokenForAll)
        #expect(APIAuthorization(token: token, listeningOn: "0.0.0.0").requiresTokenForAll)
        #expect(APIAuthorization(token: token, listeningOn: "10.0.0.7").requiresTokenForAll)

        let policy = APIAuthorization(token: token, requiresTokenForAll: false)
        #expect(policy.permits(authorizationHeader: "Bearer t", requirement: .always))
        #expect(policy.permits(authorizationHeader: "bearer  t ", requirement: .always))
        #expect(!policy.permits(authorizationHeader: "Basic t", requirement: .always))
        #expect(!policy.permits(authorizationHeader: nil, requirement: .always))
        #expect(policy.permits(authorizationHeader: nil, requirement: .offLoopback))
        #expect(policy.permits(authorizationHeader: nil, requirement: .never))
    }
}

/// A directory under the system's temporary directory, removed at deinit.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/mapctl-test-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else { throw RawHTTPError(description: "mkdtemp failed") }
        // Resolve symlinks (e.g. /tmp) so that paths reported by the watcher compare equal.
        path = URL(fileURLWithPath: String(cString: made)).resolvingSymlinksInPath().path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
