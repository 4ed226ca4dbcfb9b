/// How references are spelled: URI references (RFC 3986) for `$id`, `$ref` and `$dynamicRef`,
/// and JSON Pointers (RFC 6901) for their fragments and for error locations.
///
/// Only what JSON Schema needs: split a reference into its five components, resolve it against
/// a base (RFC 3986 §5.2), recompose it (§5.3), and percent-decode a fragment (§2.1). Hosts are
/// compared as written; no case or percent normalisation beyond the scheme's case.

/// A URI reference split into the components of RFC 3986 §3. A component that is absent
/// (`nil`) differs from one that is present and empty ("http://x?" has an empty query).
struct URIReference: Equatable {
    var scheme: String?
    var authority: String?
    var path: String
    var query: String?
    var fragment: String?

    /// Splits `text` as the regular expression of RFC 3986 Appendix B does:
    /// `^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?`.
    init(parsing text: String) {
        var rest = Substring(text)
        if let hash = rest.firstIndex(of: "#") {
            fragment = String(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        }
        // A scheme is the text before the first ":" when no "/" comes earlier (Appendix B's
        // `[^:/?#]+`); RFC 3986 §3.1 also requires it to start with a letter.
        if let colon = rest.firstIndex(of: ":"), colon != rest.startIndex,
            !rest[..<colon].contains("/"), rest.first?.isLetter == true
        {
            scheme = rest[..<colon].lowercased()
            rest = rest[rest.index(after: colon)...]
        }
        if rest.hasPrefix("//") {
            let afterSlashes = rest.index(rest.startIndex, offsetBy: 2)
            let end = rest[afterSlashes...].firstIndex(of: "/") ?? rest.endIndex
            authority = String(rest[afterSlashes..<end])
            rest = rest[end...]
        }
        path = String(rest)
    }

    init(scheme: String?, authority: String?, path: String, query: String?, fragment: String?) {
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.query = query
        self.fragment = fragment
    }

    /// True when the reference names a scheme, so needs no base.
    var isAbsolute: Bool { scheme != nil }

    /// The reference with its fragment removed: the URI of the resource it points into.
    var withoutFragment: URIReference {
        var copy = self
        copy.fragment = nil
        return copy
    }

    /// Recomposition, RFC 3986 §5.3.
    var text: String {
        var out = ""
        if let scheme { out += scheme + ":" }
        if let authority { out += "//" + authority }
        out += path
        if let query { out += "?" + query }
        if let fragment { out += "#" + fragment }
        return out
    }

    /// This reference resolved against `base`: the "strict" algorithm of RFC 3986 §5.2.2.
    func resolved(against base: URIReference) -> URIReference {
        if scheme != nil {
            return URIReference(
                scheme: scheme, authority: authority, path: removingDotSegments(path), query: query,
                fragment: fragment)
        }
        if authority != nil {
            return URIReference(
                scheme: base.scheme, authority: authority, path: removingDotSegments(path), query: query,
                fragment: fragment)
        }
        if path.isEmpty {
            return URIReference(
                scheme: base.scheme, authority: base.authority, path: base.path, query: query ?? base.query,
                fragment: fragment)
        }
        let merged = path.hasPrefix("/") ? path : mergedPath(with: base)
        return URIReference(
            scheme: base.scheme, authority: base.authority, path: removingDotSegments(merged), query: query,
            fragment: fragment)
    }

    /// RFC 3986 §5.2.3: the base path up to its last "/", then this path.
    private func mergedPath(with base: URIReference) -> String {
        if base.authority != nil, base.path.isEmpty { return "/" + path }
        guard let slash = base.path.lastIndex(of: "/") else { return path }
        return String(base.path[...slash]) + path
    }
}

/// RFC 3986 §5.2.4: removes "." and ".." segments from a path.
func removingDotSegments(_ path: String) -> String {
    guard path.contains(".") else { return path }
    var input = Substring(path)
    var output: [Substring] = []
    while !input.isEmpty {
        if input.hasPrefix("../") {
            input = input.dropFirst(3)
        } else if input.hasPrefix("./") {
            input = input.dropFirst(2)
        } else if input.hasPrefix("/./") {
            input = input.dropFirst(2)
        } else if input == "/." {
            input = "/"
        } else if input.hasPrefix("/../") {
            input = input.dropFirst(3)
            _ = output.popLast()
        } else if input == "/.." {
            input = "/"
            _ = output.popLast()
        } else if input == "." || input == ".." {
            input = ""
        } else {
            // Move the first segment, with its leading "/" if any, to the output.
            let searchStart = input.hasPrefix("/") ? input.index(after: input.startIndex) : input.startIndex
            let end = input[searchStart...].firstIndex(of: "/") ?? input.endIndex
            output.append(input[..<end])
            input = input[end...]
        }
    }
    return output.joined()
}

/// Decodes `%XX` escapes (RFC 3986 §2.1) and reads the bytes as UTF-8; nil when an escape is
/// malformed or the bytes are not UTF-8.
func percentDecoded(_ text: String) -> String? {
    guard text.contains("%") else { return text }
    var bytes: [UInt8] = []
    var iterator = Array(text.utf8).makeIterator()
    while let byte = iterator.next() {
        if byte != UInt8(ascii: "%") {
            bytes.append(byte)
            continue
        }
        guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
            return nil
        }
        bytes.append(high << 4 | low)
    }
    return String(validating: bytes, as: UTF8.self)
}

private func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
    default: nil
    }
}

/// JSON Pointer (RFC 6901) tokens: escaping for building locations, parsing for `$ref` fragments.
enum JSONPointer {
    /// One reference token escaped as RFC 6901 §3 requires: "~" → "~0", "/" → "~1".
    static func escape(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
        return token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    /// The unescaped tokens of a pointer ("" is the whole document); nil when the pointer does
    /// not start with "/" or holds a "~" not followed by "0" or "1" (RFC 6901 §4).
    static func tokens(_ pointer: String) -> [String]? {
        if pointer.isEmpty { return [] }
        guard pointer.hasPrefix("/") else { return nil }
        var tokens: [String] = []
        for raw in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var escaping = false
            for character in raw {
                if escaping {
                    switch character {
                    case "0": token.append("~")
                    case "1": token.append("/")
                    default: return nil
                    }
                    escaping = false
                } else if character == "~" {
                    escaping = true
                } else {
                    token.append(character)
                }
            }
            if escaping { return nil }
            tokens.append(token)
        }
        return tokens
    }

    /// The canonical spelling of a pointer made of `tokens`.
    static func text(_ tokens: [String]) -> String {
        tokens.map { "/" + escape($0) }.joined()
    }
}

extension String {
    /// `replacingOccurrences` without Foundation: literal, non-overlapping, left to right.
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
