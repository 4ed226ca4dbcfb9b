/// RoBERTa's input embeddings (modeling_roberta.py RobertaEmbeddings): word + position +
/// token type, then LayerNorm (applied by the caller).
///
/// Legend: N = B·T tokens, C hidden. ids, positions, tokenTypes [N]; tables [rows, C]; out [N, C].
public enum Embedding {
    /// RoBERTa's position ids (create_position_ids_from_input_ids): padding keeps the padding
    /// index; real tokens count from padding_idx + 1 within their row:
    /// mask = ids ≠ pad; pos = cumsum(mask)·mask + pad.
    public static func positionIds(_ ids: [Int32], batch: Int, length: Int, padId: Int32) -> [Int32] {
        var positions = [Int32](repeating: padId, count: ids.count)
        for b in 0..<batch {
            var running: Int32 = 0
            for t in 0..<length where ids[b * length + t] != padId {
                running += 1
                positions[b * length + t] = running + padId
            }
        }
        return positions
    }

    /// out[n] = word[ids[n]] + position[positions[n]] + tokenType[tokenTypes[n]]. Indices are
    /// in range (checked by the model before the call).
    public static func forward(
        ids: UnsafePointer<Int32>, positions: UnsafePointer<Int32>, tokenTypes: UnsafePointer<Int32>, count: Int,
        word: FloatBuffer, position: FloatBuffer, tokenType: FloatBuffer, width c: Int, into out: UnsafeMutablePointer<Float>
    ) {
        let (w, p, tt) = (word.pointer, position.pointer, tokenType.pointer)
        Parallel.forEach(count, grain: 64) { range in
            for n in range {
                let a = w + Int(ids[n]) * c
                let b = p + Int(positions[n]) * c
                let e = tt + Int(tokenTypes[n]) * c
                let o = out + n * c
                for i in 0..<c { o[i] = a[i] + b[i] + e[i] }
            }
        }
    }
}
