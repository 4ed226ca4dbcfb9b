import LSRFormats

/// Turns schema documents into a `SchemaGraph`: one node per subschema, one resource per
/// `$id`, and every reference resolved to a node (Core 2020-12 §8.2 and §9).
///
/// Two passes. The first walks each document, compiling keywords and registering, for each
/// resource, its URI, its anchors and the JSON Pointer of every subschema relative to every
/// resource that encloses it (so "#/$defs/a" and "other.json#/b" both find their node). The
/// second resolves the references collected on the way; a pointer into a place no keyword
/// compiles (say "#/definitions/x", an unknown keyword in 2020-12) compiles that value then,
/// and a reference into https://json-schema.org/draft/2020-12/ loads the built-in meta-schemas.
struct SchemaCompiler {
    private var nodes: [SchemaNode] = []
    private var resources: [SchemaResource] = []
    private var resourceByURI: [String: ResourceID] = [:]
    /// (resource, canonical JSON Pointer within it) → subschema.
    private var nodeByPointer: [PointerKey: NodeID] = [:]
    private var pending: [PendingReference] = []
    private var metaSchemasLoaded = false
    /// Compiled patterns by their text: `additionalProperties` reuses its sibling
    /// `patternProperties`' keys, and a schema often repeats a pattern. Keyed by code points:
    /// `String`'s == would take "é" and "e\u{301}", which match different texts, for one.
    private var patterns: [CodePoints: ECMARegex] = [:]
    /// Instructions of all distinct patterns so far, held under `ECMARegex.maxProgramSizePerSchema`.
    private var patternInstructions = 0

    private struct PointerKey: Hashable {
        let resource: ResourceID
        let pointer: String
    }

    /// A `$ref` or `$dynamicRef` seen while compiling, resolved once every resource is known.
    private struct PendingReference {
        let node: NodeID
        let keywordIndex: Int
        let reference: String
        let resource: ResourceID
        let isDynamic: Bool
        /// Where the keyword sits, for errors: e.g. "/properties/a/$ref".
        let location: String
    }

    /// Where a subschema being compiled sits: its document location and, for each enclosing
    /// resource, its pointer relative to that resource's root.
    struct Position {
        var location: String
        var scopes: [(resource: ResourceID, pointer: String)]
        var resource: ResourceID
        var depth: Int

        /// The position of the subschema at `tokens` below this one.
        func child(_ tokens: [String]) -> Position {
            let suffix = tokens.map { "/" + JSONPointer.escape($0) }.joined()
            return Position(
                location: location + suffix, scopes: scopes.map { ($0.resource, $0.pointer + suffix) },
                resource: resource, depth: depth + 1)
        }
    }

    /// Compiles a whole document whose retrieval URI is `baseURI`; `locationPrefix` tells
    /// errors which document it was ("" for the user's schema).
    mutating func compileDocument(
        _ document: JSONValue, baseURI: String, locationPrefix: String
    ) throws(SchemaError) -> NodeID {
        let resource = try addResource(uri: baseURI, document: document, location: locationPrefix)
        let position = Position(location: locationPrefix, scopes: [(resource, "")], resource: resource, depth: 0)
        let root = try compile(document, at: position)
        // A root `$id` other than the retrieval URI opened a second resource: the retrieval
        // URI still names the document (Core 2020-12 §9.1.1).
        if resources[resource].root < 0 { resources[resource].root = root }
        return root
    }

    /// Compiles one subschema and, recursively, the subschemas of its keywords.
    mutating func compile(_ value: JSONValue, at start: Position) throws(SchemaError) -> NodeID {
        guard start.depth <= JSONSchema.maxSchemaDepth else {
            throw .tooDeep(location: start.location, limit: JSONSchema.maxSchemaDepth)
        }
        var position = start
        let object: JSONObject
        switch value {
        case .bool(let allowed):
            let id = appendNode(SchemaNode(body: .boolean(allowed), resource: position.resource, dynamicAnchor: nil))
            register(id, at: position)
            return id
        case .object(let o):
            object = o
        default:
            throw .notASchema(location: position.location, got: value.kindName)
        }

        // `$id` starts a new resource whose URI is resolved against the enclosing one (§8.2.1).
        if let idValue = object["$id"] {
            guard case .string(let idText) = idValue else {
                throw .invalidKeyword(location: position.location, keyword: "$id", expected: "a string")
            }
            let uri = URIReference(parsing: idText).resolved(
                against: URIReference(parsing: resources[position.resource].uri))
            if let fragment = uri.fragment, !fragment.isEmpty {
                throw .invalidIdentifier(
                    location: position.location + "/$id", identifier: idText,
                    reason: "an $id must not have a fragment; use $anchor to name a subschema")
            }
            let uriText = uri.withoutFragment.text
            // At the root of a resource, an `$id` naming that same resource adds nothing.
            let restatesCurrent = uriText == resources[position.resource].uri && position.scopes.last?.pointer == ""
            if !restatesCurrent {
                let resource = try addResource(uri: uriText, document: value, location: position.location)
                position.resource = resource
                position.scopes.append((resource, ""))
            }
        }

        let dynamicAnchor = try anchorName(object, "$dynamicAnchor", at: position)
        let id = appendNode(SchemaNode(body: .boolean(true), resource: position.resource, dynamicAnchor: dynamicAnchor))
        register(id, at: position)
        if resources[position.resource].root < 0 { resources[position.resource].root = id }
        if let anchor = try anchorName(object, "$anchor", at: position) {
            try addAnchor(anchor, node: id, at: position, dynamic: false)
        }
        if let dynamicAnchor { try addAnchor(dynamicAnchor, node: id, at: position, dynamic: true) }

        let parser = KeywordParser(object: object, position: position)
        let keywords = try parser.parse(compiler: &self)
        for (index, keyword) in keywords.enumerated() {
            switch keyword.kind {
            case .ref, .dynamicRef:
                guard case .string(let reference) = object[keyword.name] else { continue }
                pending.append(
                    PendingReference(
                        node: id, keywordIndex: index, reference: reference, resource: position.resource,
                        isDynamic: keyword.name == "$dynamicRef", location: position.location + "/" + keyword.name))
            default: break
            }
        }
        nodes[id].body = .keywords(keywords)
        return id
    }

    /// Resolves every collected reference; resolving may compile more (pointer targets,
    /// meta-schemas), whose references join the queue.
    mutating func resolvePendingReferences() throws(SchemaError) {
        while let reference = pending.popLast() {
            let (target, anchor) = try resolve(reference)
            guard case .keywords(var keywords) = nodes[reference.node].body else { continue }
            keywords[reference.keywordIndex].kind =
                reference.isDynamic ? .dynamicRef(target, anchor: anchor) : .ref(target)
            nodes[reference.node].body = .keywords(keywords)
        }
    }

    /// The finished graph.
    func finish(root: NodeID) -> SchemaGraph {
        let usesUnevaluated = nodes.contains { node in
            guard case .keywords(let keywords) = node.body else { return false }
            return keywords.contains { keyword in
                switch keyword.kind {
                case .unevaluatedItems, .unevaluatedProperties: true
                default: false
                }
            }
        }
        return SchemaGraph(nodes: nodes, resources: resources, root: root, usesUnevaluated: usesUnevaluated)
    }

    /// The compiled form of `pattern`, found at `location` (for errors).
    mutating func regex(_ pattern: String, at location: String) throws(SchemaError) -> ECMARegex {
        if let compiled = patterns[CodePoints(pattern)] { return compiled }
        let compiled: ECMARegex
        do {
            compiled = try ECMARegex(pattern)
        } catch {
            throw .invalidPattern(location: location, pattern: pattern, reason: error.reason)
        }
        patternInstructions += compiled.program.instructions.count
        guard patternInstructions <= ECMARegex.maxProgramSizePerSchema else {
            throw .invalidPattern(
                location: location, pattern: pattern,
                reason: "the schema's patterns together compile to more than "
                    + "\(ECMARegex.maxProgramSizePerSchema) instructions")
        }
        patterns[CodePoints(pattern)] = compiled
        return compiled
    }

    // MARK: - Registry

    private mutating func appendNode(_ node: SchemaNode) -> NodeID {
        nodes.append(node)
        return nodes.count - 1
    }

    private mutating func addResource(uri: String, document: JSONValue, location: String) throws(SchemaError)
        -> ResourceID
    {
        if resourceByURI[uri] != nil { throw .duplicateIdentifier(location: location, identifier: uri) }
        resources.append(SchemaResource(uri: uri, document: document, root: -1))
        resourceByURI[uri] = resources.count - 1
        return resources.count - 1
    }

    private mutating func register(_ node: NodeID, at position: Position) {
        for scope in position.scopes {
            nodeByPointer[PointerKey(resource: scope.resource, pointer: scope.pointer)] = node
        }
    }

    /// The value of `$anchor` / `$dynamicAnchor`, checked against Core 2020-12 §8.2.2's
    /// `^[A-Za-z_][-A-Za-z0-9._]*$`.
    private func anchorName(_ object: JSONObject, _ keyword: String, at position: Position) throws(SchemaError)
        -> String?
    {
        guard let value = object[keyword] else { return nil }
        guard case .string(let name) = value else {
            throw .invalidKeyword(location: position.location, keyword: keyword, expected: "a string")
        }
        let scalars = Array(name.unicodeScalars)
        func isLetter(_ s: Unicode.Scalar) -> Bool { ("A"..."Z").contains(s) || ("a"..."z").contains(s) || s == "_" }
        guard let first = scalars.first, isLetter(first),
            scalars.dropFirst().allSatisfy({
                isLetter($0) || ("0"..."9").contains($0) || "-.".unicodeScalars.contains($0)
            })
        else { throw .invalidAnchor(location: position.location + "/" + keyword, anchor: name) }
        return name
    }

    private mutating func addAnchor(_ name: String, node: NodeID, at position: Position, dynamic: Bool)
        throws(SchemaError)
    {
        let resource = position.resource
        if let existing = resources[resource].anchors[name], existing != node {
            throw .duplicateIdentifier(location: position.location, identifier: resources[resource].uri + "#" + name)
        }
        resources[resource].anchors[name] = node
        if dynamic { resources[resource].dynamicAnchors[name] = node }
    }

    // MARK: - Resolution

    /// Resolves one reference to a node; the second value is the dynamic anchor name when a
    /// `$dynamicRef`'s initial target bookends it with a matching `$dynamicAnchor`.
    private mutating func resolve(_ reference: PendingReference) throws(SchemaError) -> (ReferenceTarget, String?) {
        let base = URIReference(parsing: resources[reference.resource].uri)
        let absolute = URIReference(parsing: reference.reference).resolved(against: base)
        let uri = absolute.withoutFragment.text
        guard let fragment = percentDecoded(absolute.fragment ?? "") else {
            throw .invalidReference(
                location: reference.location, reference: reference.reference, reason: "malformed percent-encoding")
        }
        if resourceByURI[uri] == nil, uri.hasPrefix(MetaSchemas.prefix), !metaSchemasLoaded {
            try loadMetaSchemas()
        }
        guard let resource = resourceByURI[uri] else { return (.unresolved(absolute.text), nil) }

        if fragment.isEmpty { return (.node(resources[resource].root), nil) }
        if fragment.hasPrefix("/") {
            guard let tokens = JSONPointer.tokens(fragment) else {
                throw .invalidReference(
                    location: reference.location, reference: reference.reference,
                    reason: "'~' in a JSON Pointer must be followed by 0 or 1")
            }
            let pointer = JSONPointer.text(tokens)
            if let node = nodeByPointer[PointerKey(resource: resource, pointer: pointer)] {
                return (.node(node), nil)
            }
            guard let value = lookUp(tokens, in: resources[resource].document) else {
                return (.unresolved(absolute.text), nil)
            }
            let position = Position(
                location: resources[resource].uri + "#" + pointer, scopes: [(resource, pointer)], resource: resource,
                depth: 0)
            return (.node(try compile(value, at: position)), nil)
        }
        guard let node = resources[resource].anchors[fragment] else { return (.unresolved(absolute.text), nil) }
        let bookended = reference.isDynamic && resources[resource].dynamicAnchors[fragment] == node
        return (.node(node), bookended ? fragment : nil)
    }

    /// The value at `tokens` within `document` (RFC 6901 §4: array indices are decimal, no
    /// leading zeros); nil when the path leads nowhere or not to a schema.
    private func lookUp(_ tokens: [String], in document: JSONValue) -> JSONValue? {
        var value = document
        for token in tokens {
            switch value {
            case .object(let object):
                guard let member = object[token] else { return nil }
                value = member
            case .array(let items):
                guard let index = Int(token), index >= 0, index < items.count,
                    token == "0" || !token.hasPrefix("0")
                else { return nil }
                value = items[index]
            default:
                return nil
            }
        }
        switch value {
        case .object, .bool: return value
        default: return nil
        }
    }

    /// Compiles the built-in 2020-12 meta-schemas as documents of their own.
    private mutating func loadMetaSchemas() throws(SchemaError) {
        metaSchemasLoaded = true
        // A document the user compiled under a meta-schema's own URI stands in for it.
        for (uri, text) in MetaSchemas.documents where resourceByURI[uri] == nil {
            // The texts are constants of this module; a parse failure is a bug caught by tests.
            guard let document = try? JSON.parse(text) else { continue }
            _ = try compileDocument(document, baseURI: uri, locationPrefix: uri + "#")
        }
    }
}
