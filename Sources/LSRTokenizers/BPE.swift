import Synchronization

/// The BPE model of `tokenizers` 0.23 (tokenizers/src/models/bpe/model.rs and word.rs): a
/// pre-token's bytes start as one symbol each, then merges apply lowest rank first, leftmost
/// first among equal ranks, until no adjacent pair has a merge.
final class BPEModel: Sendable {
    /// A merge rule: applying it to the pair gives `result`; lower `rank` applies first.
    struct Merge: Sendable {
        let rank: Int32
        let result: Int32
    }

    /// Token → id, keyed by the token's UTF-8 bytes (exact: no Unicode equivalence).
    let vocabulary: [[UInt8]: Int32]
    /// Id → token, for every id the vocabulary assigns (the first token in file order wins
    /// when two share an id).
    let tokenForId: [Int32: String]
    /// (left id, right id) packed as `left << 32 | right` → merge.
    let merges: [UInt64: Merge]
    /// The id of each byte's one-character token, or -1 when the vocabulary lacks it.
    private let byteIds: [Int32]
    /// The unknown token's id, for characters the vocabulary lacks. Without one such characters
    /// are dropped; tokenizers would fail on an unk_token absent from the vocabulary, and so
    /// drops them too here.
    let unknownId: Int32?
    /// `fuse_unk`: consecutive unknown characters make one unknown token.
    let fuseUnknown: Bool
    /// `ignore_merges`: a pre-token that is itself in the vocabulary is one token.
    let ignoreMerges: Bool
    private let cache = BPECache()

    /// `BpeBuilder::build`: resolves every merge to ids. Throws `.mergeTokenNotInVocabulary`
    /// naming `mergeLocations(i)` (a JSON pointer or "line N") for the first merge that names
    /// a token the vocabulary lacks. (No continuing-subword prefix nor end-of-word suffix:
    /// byte-level BPE has neither; the loader refuses them.)
    init(
        vocabulary: [(token: String, id: Int32)], merges: [(left: String, right: String)], mergeLocations: (Int) -> String,
        unknownToken: String?, fuseUnknown: Bool, ignoreMerges: Bool
    ) throws(TokenizerError) {
        var vocab: [[UInt8]: Int32] = [:]
        vocab.reserveCapacity(vocabulary.count)
        var reverse: [Int32: String] = [:]
        for (token, id) in vocabulary {
            vocab[Array(token.utf8)] = id
            if reverse[id] == nil { reverse[id] = token }
        }
        var rules: [UInt64: Merge] = [:]
        rules.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            let left = Array(merge.left.utf8)
            let right = Array(merge.right.utf8)
            guard let leftId = vocab[left] else {
                throw .mergeTokenNotInVocabulary(location: mergeLocations(rank), merge: merge.left + " " + merge.right, token: merge.left)
            }
            guard let rightId = vocab[right] else {
                throw .mergeTokenNotInVocabulary(location: mergeLocations(rank), merge: merge.left + " " + merge.right, token: merge.right)
            }
            let merged = left + right
            guard let resultId = vocab[merged] else {
                throw .mergeTokenNotInVocabulary(
                    location: mergeLocations(rank), merge: merge.left + " " + merge.right, token: String(decoding: merged, as: UTF8.self))
            }
            // A pair listed twice keeps its last rank, as collecting into a HashMap does.
            rules[Self.pairKey(leftId, rightId)] = Merge(rank: Int32(rank), result: resultId)
        }
        self.vocabulary = vocab
        tokenForId = reverse
        self.merges = rules
        byteIds = ByteLevel.byteToScalar.map { vocab[Array(String($0).utf8)] ?? -1 }
        unknownId = unknownToken.flatMap { vocab[Array($0.utf8)] }
        self.fuseUnknown = fuseUnknown
        self.ignoreMerges = ignoreMerges
    }

    @inline(__always) static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Appends the ids of one pre-token (raw bytes, before byte-level spelling) to `ids`.
    func tokenize(_ bytes: UnsafeBufferPointer<UInt8>, into ids: inout [Int32]) {
        if bytes.isEmpty { return }
        let key = Array(bytes)
        if let hit = cache[key] {
            ids.append(contentsOf: hit)
            return
        }
        var word = initialSymbols(bytes)
        word.mergeAll(merges)
        let result = word.ids
        // tokenizers caches words shorter than MAX_LENGTH (256) bytes, up to its capacity.
        if bytes.count < BPECache.maxWordBytes { cache[key] = result }
        ids.append(contentsOf: result)
    }

    /// `merge_word` before merging: one symbol per byte-level character, the unknown token (or
    /// nothing, without one) for characters the vocabulary lacks.
    private func initialSymbols(_ bytes: UnsafeBufferPointer<UInt8>) -> Word {
        var word = Word(capacity: bytes.count)
        if ignoreMerges, let id = vocabulary[Array(ByteLevel.spell(bytes).utf8)] {
            word.add(id)
            return word
        }
        var pendingUnknown = false
        for byte in bytes {
            let id = byteIds[Int(byte)]
            if id >= 0 {
                if pendingUnknown, let unknownId { word.add(unknownId) }
                pendingUnknown = false
                word.add(id)
            } else if let unknownId {
                // Without fuse_unk every unknown character is its own unknown token.
                if pendingUnknown && !fuseUnknown { word.add(unknownId) }
                pendingUnknown = true
            }
        }
        if pendingUnknown, let unknownId { word.add(unknownId) }
        return word
    }
}

/// A pre-token being merged: a linked list of symbols over an array (word.rs `Word`).
private struct Word {
    var symbols: [Int32] = []
    var previous: [Int32] = []
    var next: [Int32] = []
    /// False once the symbol was merged into its left neighbour (word.rs marks len = 0).
    var alive: [Bool] = []

    init(capacity: Int) {
        symbols.reserveCapacity(capacity)
        previous.reserveCapacity(capacity)
        next.reserveCapacity(capacity)
        alive.reserveCapacity(capacity)
    }

    mutating func add(_ id: Int32) {
        let index = Int32(symbols.count)
        if index > 0 { next[Int(index) - 1] = index }
        symbols.append(id)
        previous.append(index - 1)
        next.append(-1)
        alive.append(true)
    }

    var ids: [Int32] { zip(symbols, alive).compactMap { $1 ? $0 : nil } }

    /// `Word::merge_all` without dropout: a priority queue of (rank, position); a popped entry
    /// whose pair has changed since it was queued is skipped unless the current pair merges
    /// into the same token (the check word.rs makes).
    mutating func mergeAll(_ merges: [UInt64: BPEModel.Merge]) {
        var queue = MergeQueue()
        for position in 0..<max(symbols.count - 1, 0) {
            if let merge = merges[BPEModel.pairKey(symbols[position], symbols[position + 1])] {
                queue.push(rank: merge.rank, position: Int32(position), result: merge.result)
            }
        }
        while let top = queue.pop() {
            let position = Int(top.position)
            guard alive[position], next[position] >= 0 else { continue }
            let right = Int(next[position])
            guard let current = merges[BPEModel.pairKey(symbols[position], symbols[right])], current.result == top.result else {
                continue
            }
            // Merge the right symbol into this one.
            symbols[position] = top.result
            next[position] = next[right]
            alive[right] = false
            if next[right] >= 0 { previous[Int(next[right])] = Int32(position) }
            if previous[position] >= 0 {
                let left = Int(previous[position])
                if let merge = merges[BPEModel.pairKey(symbols[left], symbols[position])] {
                    queue.push(rank: merge.rank, position: Int32(left), result: merge.result)
                }
            }
            if next[position] >= 0 {
                if let merge = merges[BPEModel.pairKey(symbols[position], symbols[Int(next[position])])] {
                    queue.push(rank: merge.rank, position: Int32(position), result: merge.result)
                }
            }
        }
    }
}

/// A binary min-heap of pending merges ordered by (rank, position), as word.rs orders `Merge`.
private struct MergeQueue {
    struct Entry {
        /// rank << 32 | position: one comparison orders by rank, then position.
        let order: UInt64
        let result: Int32
        var position: Int32 { Int32(truncatingIfNeeded: order & 0xFFFF_FFFF) }
    }

    private var heap: [Entry] = []

    mutating func push(rank: Int32, position: Int32, result: Int32) {
        heap.append(Entry(order: UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: position)), result: result))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent].order <= heap[child].order { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                if left >= heap.count { break }
                let right = left + 1
                let smaller = right < heap.count && heap[right].order < heap[left].order ? right : left
                if heap[parent].order <= heap[smaller].order { break }
                heap.swapAt(parent, smaller)
                parent = smaller
            }
        }
        return top
    }
}

/// Results of `BPEModel.tokenize` per pre-token, shared by all copies of a tokenizer and safe
/// across threads. Bounded as tokenizers' BPE cache: entries stop being added once full.
final class BPECache: Sendable {
    /// tokenizers' DEFAULT_CACHE_CAPACITY.
    static let capacity = 10_000
    /// tokenizers' MAX_LENGTH: longer words are not cached.
    static let maxWordBytes = 256

    private let entries = Mutex<[[UInt8]: [Int32]]>([:])

    subscript(key: [UInt8]) -> [Int32]? {
        get { entries.withLock { $0[key] } }
        set {
            guard let newValue else { return }
            entries.withLock { table in
                if table.count < Self.capacity { table[key] = newValue }
            }
        }
    }
}
