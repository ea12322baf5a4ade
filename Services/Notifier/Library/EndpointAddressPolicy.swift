import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Keeps webhook URLs from reaching internal services: http or https only, and no private, loopback or
/// link-local address unless the configuration allows them.
struct EndpointAddressPolicy: Sendable {
    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    let allowPrivateAddresses: Bool

    /// Parses and checks a configured URL. A host that does not resolve yet is accepted here (a DNS
    /// hiccup must not stop the service); every delivery checks it again.
    func checkedURL(_ text: String) throws(Refusal) -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw Refusal(description: "\(text.isEmpty ? "required" : "\(text) is not an absolute URL")")
        }
        guard scheme == "http" || scheme == "https" else { throw Refusal(description: "\(text): only http and https are delivered to") }
        try check(host: host, requireResolution: false)
        return url
    }

    /// Refuses a host that is, or resolves to, a private address (unless allowed). Resolution blocks:
    /// call it off the cooperative pool.
    func check(host: String, requireResolution: Bool = true) throws(Refusal) {
        guard !allowPrivateAddresses else { return }
        let addresses = Self.resolve(host)
        guard !addresses.isEmpty else {
            if requireResolution { throw Refusal(description: "\(host) does not resolve") }
            return
        }
        if let privateAddress = addresses.first(where: Self.isPrivate) {
            throw Refusal(description: "\(host) resolves to \(privateAddress), a private or loopback address; set notifier.allowPrivateAddresses to deliver there")
        }
    }

    /// The numeric addresses of `host` (itself when it is one).
    static func resolve(_ host: String) -> [String] {
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(list) }
        var addresses: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(current.pointee.ai_addr, current.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                addresses.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            entry = current.pointee.ai_next
        }
        return addresses
    }

    /// Loopback, private (RFC 1918, unique local), link-local, shared (CGNAT), unspecified, and IPv4
    /// mapped into IPv6 of any of those.
    static func isPrivate(_ address: String) -> Bool {
        let lowered = address.lowercased()
        if lowered.hasPrefix("::ffff:"), lowered.contains(".") { return isPrivate(String(lowered.dropFirst(7))) }
        if lowered.contains(":") {
            let zoneless = lowered.split(separator: "%").first.map(String.init) ?? lowered
            return zoneless == "::1" || zoneless == "::" || zoneless.hasPrefix("fc") || zoneless.hasPrefix("fd")
                || zoneless.hasPrefix("fe8") || zoneless.hasPrefix("fe9") || zoneless.hasPrefix("fea") || zoneless.hasPrefix("feb")
        }
        let octets = lowered.split(separator: ".").compactMap { Int($0) }
        guard octets.count == 4 else { return true }
        switch (octets[0], octets[1]) {
        case (0, _), (10, _), (127, _): return true
        case (169, 254), (192, 168): return true
        case (172, 16...31): return true
        case (100, 64...127): return true
        default: return false
        }
    }
}
