import LSREngine

/// Training-mode dropout for `RobertaModel.forward`: the probabilities of the three kinds of
/// dropout transformers' RobertaForSequenceClassification applies, and the seed of their masks.
///
/// Where (modeling_roberta.py, transformers 5.23):
/// - `hidden`: RobertaEmbeddings after the LayerNorm; RobertaSelfOutput and RobertaOutput on
///   the dense output (with any adapter term) before the residual sum and LayerNorm;
/// - `attention`: eager_attention_forward on the softmax probabilities, before ·V;
/// - `classifier`: RobertaClassificationHead before `dense` and again before `out_proj`
///   (config `classifier_dropout`, or `hidden_dropout_prob` where that is null).
///
/// The masks are `DropoutMask`s (a counter-based hash, LSREngine/Dropout.swift) of
/// (seed, stream, site): a forward pass with the same settings and stream draws the same
/// masks, and backward regenerates them from the workspace. Sites are numbered in forward
/// order: 0 the embeddings; for layer l, 1 + 3l the attention probabilities, 2 + 3l the
/// attention output, 3 + 3l the feed-forward output; then 1 + 3L and 2 + 3L the head's two
/// (L layers). Fixtures/generate/dropout_reference.py numbers them the same way.
public struct DropoutSettings: Sendable, Equatable {
    /// hidden_dropout_prob: embeddings, attention output, feed-forward output.
    public var hidden: Float
    /// attention_probs_dropout_prob: the attention probabilities.
    public var attention: Float
    /// The classification head's, before its dense and before out_proj.
    public var classifier: Float
    public var seed: UInt64

    public init(hidden: Float, attention: Float, classifier: Float, seed: UInt64) {
        self.hidden = hidden
        self.attention = attention
        self.classifier = classifier
        self.seed = seed
    }

    /// The probabilities the config names, as transformers' model would use them in training
    /// mode (RobertaClassificationHead: classifier_dropout if set, else hidden_dropout_prob).
    /// `overridingAll`: one probability for all three instead (`--dropout P`; 0 turns dropout off).
    public init(config: RobertaConfig, seed: UInt64, overridingAll probability: Float? = nil) {
        if let probability {
            self.init(hidden: probability, attention: probability, classifier: probability, seed: seed)
        } else {
            self.init(
                hidden: Float(config.hiddenDropoutProb), attention: Float(config.attentionProbsDropoutProb),
                classifier: Float(config.classifierDropout ?? config.hiddenDropoutProb), seed: seed)
        }
    }

    /// No site drops anything: the forward pass is the eval-mode one.
    public var isOff: Bool { hidden == 0 && attention == 0 && classifier == 0 }

    /// Each probability must lie in [0, 1] (1 zeroes its sites, as torch does).
    func validate() throws(RobertaModel.Error) {
        for (name, p) in [("hidden", hidden), ("attention", attention), ("classifier", classifier)] where !(p >= 0 && p <= 1) {
            throw .invalidDropout(site: name, probability: p)
        }
    }
}

/// The masks of one forward pass (settings + stream), by site; nil where the probability is 0,
/// so that a site without dropout costs nothing.
///
/// `firstRow`: the batch's first row within the micro-batch the masks are drawn for (a
/// data-parallel rank's share starts there; 0 in one process). Each site's mask is shifted by
/// firstRow × its elements per row (T·C for the hidden sites, H·T·T for the attention
/// probabilities, C for the head's), so N ranks holding a micro-batch's rows, padded to the
/// micro-batch's length T, draw the bits one process draws for the whole of it.
struct DropoutSites: Sendable, Equatable {
    let settings: DropoutSettings
    let stream: UInt64
    /// The encoder's layer count L: the head's sites follow the layers'.
    let layers: Int
    var firstRow = 0
    /// T, C and H of the batch (for the shift by `firstRow`).
    var length = 0
    var hidden = 0
    var heads = 0

    var embeddings: DropoutMask? { mask(settings.hidden, site: 0, perRow: length * hidden) }
    func attentionProbs(_ layer: Int) -> DropoutMask? { mask(settings.attention, site: 1 + 3 * layer, perRow: heads * length * length) }
    func attentionOutput(_ layer: Int) -> DropoutMask? { mask(settings.hidden, site: 2 + 3 * layer, perRow: length * hidden) }
    func feedForwardOutput(_ layer: Int) -> DropoutMask? { mask(settings.hidden, site: 3 + 3 * layer, perRow: length * hidden) }
    /// Before classifier.dense, on the <s> rows [B, C].
    var classifierInput: DropoutMask? { mask(settings.classifier, site: 1 + 3 * layers, perRow: hidden) }
    /// Before classifier.out_proj, on tanh(dense(·)) [B, C].
    var classifierHidden: DropoutMask? { mask(settings.classifier, site: 2 + 3 * layers, perRow: hidden) }

    private func mask(_ probability: Float, site: Int, perRow: Int) -> DropoutMask? {
        guard probability > 0 else { return nil }
        return DropoutMask(probability: probability, seed: settings.seed, stream: stream, site: UInt64(site)).shifted(by: firstRow * perRow)
    }
}
