import Crypto
import Foundation
import JWTKit
import HTTPTypes
import ServiceRuntime

/// Verifies `X-Lago-Signature` for one organization, with either algorithm Lago uses:
/// - `hmac`: base64 of HMAC-SHA256 over the raw body, keyed with the organization's HMAC key;
/// - `jwt`: an RS256 token whose `iss` is the billing instance's URL and whose `data` claim is the raw body.
struct SignatureVerifier: Sendable {
    enum Algorithm: String {
        case hmac, jwt
    }

    private let hmacKey: SymmetricKey?
    private let jwtKeys: JWTKeyCollection?
    private let jwtIssuer: String?

    init(_ organization: OrganizationSettings) async throws {
        hmacKey = organization.hmacKey.map { SymmetricKey(data: Data($0.utf8)) }
        jwtIssuer = organization.jwtIssuer
        if let pem = organization.jwtPublicKeyPEM {
            do {
                let key = try Insecure.RSA.PublicKey(pem: Self.decodePEM(pem))
                jwtKeys = await JWTKeyCollection().add(rsa: key, digestAlgorithm: .sha256)
            } catch {
                throw ConfigurationError(problems: [
                    "ingest.organization.\(organization.name).jwtPublicKey: not an RSA public key PEM (\(error))"
                ])
            }
        } else {
            jwtKeys = nil
        }
    }

    /// Lago serves its public key as base64 of the PEM; accept that and plain PEM alike.
    private static func decodePEM(_ text: String) -> String {
        if text.contains("-----BEGIN") { return text }
        let compact = text.filter { !$0.isWhitespace }
        return Data(base64Encoded: compact).map { String(decoding: $0, as: UTF8.self) } ?? text
    }

    /// Throws a 401 problem unless `signature` proves `body` came from the organization.
    func verify(body: [UInt8], signature: String?, algorithmName: String?) async throws {
        guard let signature, !signature.isEmpty else {
            throw Self.unauthorized("The X-Lago-Signature header is missing.")
        }
        // Lago always names the algorithm; without the header, a token with two dots can only be a JWT.
        let named = algorithmName?.lowercased() ?? (signature.split(separator: ".").count == 3 ? "jwt" : "hmac")
        guard let algorithm = Algorithm(rawValue: named) else {
            throw Self.unauthorized("X-Lago-Signature-Algorithm must be hmac or jwt, not \(named).")
        }
        switch algorithm {
        case .hmac: try verifyHMAC(body: body, signature: signature)
        case .jwt: try await verifyJWT(body: body, token: signature)
        }
    }

    private func verifyHMAC(body: [UInt8], signature: String) throws {
        guard let hmacKey else {
            throw Self.unauthorized("This organization accepts no hmac signatures: no HMAC key is configured.")
        }
        guard let expected = Data(base64Encoded: signature),
            HMAC<SHA256>.isValidAuthenticationCode(expected, authenticating: body, using: hmacKey)  // constant time
        else {
            throw Self.unauthorized("The hmac signature does not match the body.")
        }
    }

    private struct LagoClaims: JWTPayload {
        let data: String
        let iss: IssuerClaim

        func verify(using algorithm: some JWTAlgorithm) throws {}
    }

    private func verifyJWT(body: [UInt8], token: String) async throws {
        guard let jwtKeys, let jwtIssuer else {
            throw Self.unauthorized("This organization accepts no jwt signatures: no public key is configured.")
        }
        let claims: LagoClaims
        do {
            claims = try await jwtKeys.verify(token, as: LagoClaims.self)
        } catch {
            throw Self.unauthorized("The jwt signature is not a valid RS256 token for the configured key.")
        }
        guard claims.iss.value == jwtIssuer else {
            throw Self.unauthorized("The jwt issuer is not the configured one.")
        }
        guard claims.data.utf8.elementsEqual(body) else {
            throw Self.unauthorized("The jwt data claim does not match the body.")
        }
    }

    private static func unauthorized(_ detail: String) -> Problem {
        Problem(.unauthorized, kind: "invalid-signature", detail: detail)
    }
}
