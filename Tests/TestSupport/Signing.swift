import Crypto
import Foundation
import JWTKit

/// Signs webhook bodies the way a Lago instance does, independently of ingest's verifier.
public enum LagoSigning {
    /// `hmac`: base64 of HMAC-SHA256 over the raw body.
    public static func hmac(_ body: [UInt8], key: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(key.utf8)))
        return Data(code).base64EncodedString()
    }

    public static let jwtPrivateKeyPEM = try! Fixtures.text("keys/jwt-test-private.pem")
    public static let jwtPublicKeyPEM = try! Fixtures.text("keys/jwt-test-public.pem")

    private struct Claims: JWTPayload {
        let data: String
        let iss: IssuerClaim
        func verify(using algorithm: some JWTAlgorithm) throws {}
    }

    /// `jwt`: RS256 over `{data: <raw body>, iss: <issuer>}`, with the test key pair.
    public static func jwt(_ body: [UInt8], issuer: String, data: String? = nil) async throws -> String {
        let keys = await JWTKeyCollection().add(
            rsa: try Insecure.RSA.PrivateKey(pem: jwtPrivateKeyPEM), digestAlgorithm: .sha256)
        return try await keys.sign(Claims(data: data ?? String(decoding: body, as: UTF8.self), iss: IssuerClaim(value: issuer)))
    }
}
