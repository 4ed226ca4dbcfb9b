/// A Unicode property of `\p{…}` (ECMA-262 §22.2.2.9 UnicodeMatchProperty and
/// UnicodeMatchPropertyValue): a General_Category value or group, a binary property, or a
/// Script / Script_Extensions value.
///
/// Names and values are matched exactly, as ECMA-262 requires (no loose matching:
/// `\p{letter}` is a syntax error), against the aliases of ECMA-262's tables 67–69, which
/// come from the Unicode Character Database (PropertyAliases.txt, PropertyValueAliases.txt).
/// Answers come from `Unicode.Scalar.Properties`, i.e. the Unicode version of the Swift
/// runtime. Emoji_Component and Extended_Pictographic are refused: the runtime does not expose
/// them.
enum UnicodeProperty: Sendable {
    /// A mask over `generalCategoryBit`.
    case generalCategories(UInt32)
    case binary(@Sendable (Unicode.Scalar) -> Bool)
    case script(ScriptTest)

    func holds(for scalar: Unicode.Scalar) -> Bool {
        switch self {
        case .generalCategories(let mask): mask & (1 << Self.generalCategoryBit(scalar.properties.generalCategory)) != 0
        case .binary(let test): test(scalar)
        case .script(let test): test.holds(for: scalar)
        }
    }

    /// Why an expression names no property this engine can test.
    enum LookupError: Error {
        case unknown
        case unsupported
    }

    /// The property named by the text between the braces of `\p{…}`: `Name=Value` with Name
    /// one of General_Category (gc), Script (sc), Script_Extensions (scx), or a lone General_Category
    /// value or binary property name.
    static func named(_ expression: String) throws(LookupError) -> UnicodeProperty {
        let parts = expression.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            let name = String(parts[0])
            let value = String(parts[1])
            switch name {
            case "General_Category", "gc":
                guard let mask = generalCategoryMasks[value] else { throw .unknown }
                return .generalCategories(mask)
            case "Script", "sc", "Script_Extensions", "scx":
                let extensions = name == "Script_Extensions" || name == "scx"
                guard let test = ScriptTest(value: value, extensions: extensions) else { throw .unknown }
                return .script(test)
            default:
                throw .unknown
            }
        }
        if let mask = generalCategoryMasks[expression] { return .generalCategories(mask) }
        if unsupportedBinaryProperties.contains(expression) { throw .unsupported }
        guard let test = binaryProperties[expression] else { throw .unknown }
        return .binary(test)
    }

    // MARK: - General_Category (ECMA-262 table 69)

    private static func generalCategoryBit(_ category: Unicode.GeneralCategory) -> UInt32 {
        switch category {
        case .uppercaseLetter: 0
        case .lowercaseLetter: 1
        case .titlecaseLetter: 2
        case .modifierLetter: 3
        case .otherLetter: 4
        case .nonspacingMark: 5
        case .spacingMark: 6
        case .enclosingMark: 7
        case .decimalNumber: 8
        case .letterNumber: 9
        case .otherNumber: 10
        case .connectorPunctuation: 11
        case .dashPunctuation: 12
        case .openPunctuation: 13
        case .closePunctuation: 14
        case .initialPunctuation: 15
        case .finalPunctuation: 16
        case .otherPunctuation: 17
        case .mathSymbol: 18
        case .currencySymbol: 19
        case .modifierSymbol: 20
        case .otherSymbol: 21
        case .spaceSeparator: 22
        case .lineSeparator: 23
        case .paragraphSeparator: 24
        case .control: 25
        case .format: 26
        case .surrogate: 27
        case .privateUse: 28
        case .unassigned: 29
        @unknown default: 29
        }
    }

    private static func mask(_ categories: Unicode.GeneralCategory...) -> UInt32 {
        categories.reduce(0) { $0 | 1 << generalCategoryBit($1) }
    }

    /// Every name and alias of each General_Category value and group (PropertyValueAliases.txt, gc).
    private static let generalCategoryMasks: [String: UInt32] = {
        let letters = mask(.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter)
        let marks = mask(.nonspacingMark, .spacingMark, .enclosingMark)
        let numbers = mask(.decimalNumber, .letterNumber, .otherNumber)
        let punctuation = mask(
            .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation)
        let symbols = mask(.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol)
        let separators = mask(.spaceSeparator, .lineSeparator, .paragraphSeparator)
        let others = mask(.control, .format, .surrogate, .privateUse, .unassigned)
        let entries: [([String], UInt32)] = [
            (["Cased_Letter", "LC"], mask(.uppercaseLetter, .lowercaseLetter, .titlecaseLetter)),
            (["Close_Punctuation", "Pe"], mask(.closePunctuation)),
            (["Connector_Punctuation", "Pc"], mask(.connectorPunctuation)),
            (["Control", "Cc", "cntrl"], mask(.control)),
            (["Currency_Symbol", "Sc"], mask(.currencySymbol)),
            (["Dash_Punctuation", "Pd"], mask(.dashPunctuation)),
            (["Decimal_Number", "Nd", "digit"], mask(.decimalNumber)),
            (["Enclosing_Mark", "Me"], mask(.enclosingMark)),
            (["Final_Punctuation", "Pf"], mask(.finalPunctuation)),
            (["Format", "Cf"], mask(.format)),
            (["Initial_Punctuation", "Pi"], mask(.initialPunctuation)),
            (["Letter", "L"], letters),
            (["Letter_Number", "Nl"], mask(.letterNumber)),
            (["Line_Separator", "Zl"], mask(.lineSeparator)),
            (["Lowercase_Letter", "Ll"], mask(.lowercaseLetter)),
            (["Mark", "M", "Combining_Mark"], marks),
            (["Math_Symbol", "Sm"], mask(.mathSymbol)),
            (["Modifier_Letter", "Lm"], mask(.modifierLetter)),
            (["Modifier_Symbol", "Sk"], mask(.modifierSymbol)),
            (["Nonspacing_Mark", "Mn"], mask(.nonspacingMark)),
            (["Number", "N"], numbers),
            (["Open_Punctuation", "Ps"], mask(.openPunctuation)),
            (["Other", "C"], others),
            (["Other_Letter", "Lo"], mask(.otherLetter)),
            (["Other_Number", "No"], mask(.otherNumber)),
            (["Other_Punctuation", "Po"], mask(.otherPunctuation)),
            (["Other_Symbol", "So"], mask(.otherSymbol)),
            (["Paragraph_Separator", "Zp"], mask(.paragraphSeparator)),
            (["Private_Use", "Co"], mask(.privateUse)),
            (["Punctuation", "P", "punct"], punctuation),
            (["Separator", "Z"], separators),
            (["Space_Separator", "Zs"], mask(.spaceSeparator)),
            (["Spacing_Mark", "Mc"], mask(.spacingMark)),
            (["Surrogate", "Cs"], mask(.surrogate)),
            (["Symbol", "S"], symbols),
            (["Titlecase_Letter", "Lt"], mask(.titlecaseLetter)),
            (["Unassigned", "Cn"], mask(.unassigned)),
            (["Uppercase_Letter", "Lu"], mask(.uppercaseLetter)),
        ]
        return byName(entries)
    }()

    // MARK: - Binary properties (ECMA-262 table 68)

    private typealias Test = @Sendable (Unicode.Scalar) -> Bool

    /// Long name and short alias of each binary property, with its test.
    private static let binaryProperties: [String: Test] = {
        let entries: [([String], Test)] = [
            (["ASCII"], { $0.isASCII }),
            (["ASCII_Hex_Digit", "AHex"], { $0.properties.isASCIIHexDigit }),
            (["Alphabetic", "Alpha"], { $0.properties.isAlphabetic }),
            (["Any"], { _ in true }),
            (["Assigned"], { $0.properties.generalCategory != .unassigned }),
            (["Bidi_Control", "Bidi_C"], { $0.properties.isBidiControl }),
            (["Bidi_Mirrored", "Bidi_M"], { $0.properties.isBidiMirrored }),
            (["Case_Ignorable", "CI"], { $0.properties.isCaseIgnorable }),
            (["Cased"], { $0.properties.isCased }),
            (["Changes_When_Casefolded", "CWCF"], { $0.properties.changesWhenCaseFolded }),
            (["Changes_When_Casemapped", "CWCM"], { $0.properties.changesWhenCaseMapped }),
            (["Changes_When_Lowercased", "CWL"], { $0.properties.changesWhenLowercased }),
            (["Changes_When_NFKC_Casefolded", "CWKCF"], { $0.properties.changesWhenNFKCCaseFolded }),
            (["Changes_When_Titlecased", "CWT"], { $0.properties.changesWhenTitlecased }),
            (["Changes_When_Uppercased", "CWU"], { $0.properties.changesWhenUppercased }),
            (["Dash"], { $0.properties.isDash }),
            (["Default_Ignorable_Code_Point", "DI"], { $0.properties.isDefaultIgnorableCodePoint }),
            (["Deprecated", "Dep"], { $0.properties.isDeprecated }),
            (["Diacritic", "Dia"], { $0.properties.isDiacritic }),
            (["Emoji"], { $0.properties.isEmoji }),
            (["Emoji_Modifier", "EMod"], { $0.properties.isEmojiModifier }),
            (["Emoji_Modifier_Base", "EBase"], { $0.properties.isEmojiModifierBase }),
            (["Emoji_Presentation", "EPres"], { $0.properties.isEmojiPresentation }),
            (["Extender", "Ext"], { $0.properties.isExtender }),
            (["Grapheme_Base", "Gr_Base"], { $0.properties.isGraphemeBase }),
            (["Grapheme_Extend", "Gr_Ext"], { $0.properties.isGraphemeExtend }),
            (["Hex_Digit", "Hex"], { $0.properties.isHexDigit }),
            (["IDS_Binary_Operator", "IDSB"], { $0.properties.isIDSBinaryOperator }),
            (["IDS_Trinary_Operator", "IDST"], { $0.properties.isIDSTrinaryOperator }),
            (["ID_Continue", "IDC"], { $0.properties.isIDContinue }),
            (["ID_Start", "IDS"], { $0.properties.isIDStart }),
            (["Ideographic", "Ideo"], { $0.properties.isIdeographic }),
            (["Join_Control", "Join_C"], { $0.properties.isJoinControl }),
            (["Logical_Order_Exception", "LOE"], { $0.properties.isLogicalOrderException }),
            (["Lowercase", "Lower"], { $0.properties.isLowercase }),
            (["Math"], { $0.properties.isMath }),
            (["Noncharacter_Code_Point", "NChar"], { $0.properties.isNoncharacterCodePoint }),
            (["Pattern_Syntax", "Pat_Syn"], { $0.properties.isPatternSyntax }),
            (["Pattern_White_Space", "Pat_WS"], { $0.properties.isPatternWhitespace }),
            (["Quotation_Mark", "QMark"], { $0.properties.isQuotationMark }),
            (["Radical"], { $0.properties.isRadical }),
            // The 26 regional indicator symbols (PropList.txt), which the runtime has no accessor for.
            (["Regional_Indicator", "RI"], { (0x1F1E6...0x1F1FF).contains($0.value) }),
            (["Sentence_Terminal", "STerm"], { $0.properties.isSentenceTerminal }),
            (["Soft_Dotted", "SD"], { $0.properties.isSoftDotted }),
            (["Terminal_Punctuation", "Term"], { $0.properties.isTerminalPunctuation }),
            (["Unified_Ideograph", "UIdeo"], { $0.properties.isUnifiedIdeograph }),
            (["Uppercase", "Upper"], { $0.properties.isUppercase }),
            (["Variation_Selector", "VS"], { $0.properties.isVariationSelector }),
            (["White_Space", "space"], { $0.properties.isWhitespace }),
            (["XID_Continue", "XIDC"], { $0.properties.isXIDContinue }),
            (["XID_Start", "XIDS"], { $0.properties.isXIDStart }),
        ]
        return byName(entries)
    }()

    /// A lookup table with every name of each entry.
    private static func byName<Value>(_ entries: [([String], Value)]) -> [String: Value] {
        var table: [String: Value] = [:]
        for (names, value) in entries {
            for name in names { table[name] = value }
        }
        return table
    }

    /// Binary properties of ECMA-262 table 68 that `Unicode.Scalar.Properties` lacks.
    private static let unsupportedBinaryProperties: Set<String> = [
        "Emoji_Component", "EComp", "Extended_Pictographic", "ExtPict",
    ]
}

/// Script=… / Script_Extensions=…, asked of the stdlib's `Regex`, the only public API that knows
/// a scalar's script. The regex is one property class matched against one scalar, so its
/// running time is bounded; no pattern text reaches it but the value, limited to the
/// characters of Unicode script names. The stdlib reads values loosely (case, "_" and spaces
/// ignored), so unlike ECMA-262 `\p{Script=greek}` is accepted.
final class ScriptTest: @unchecked Sendable {
    // @unchecked: `Regex` is an immutable value whose only mutable state, the lowered program,
    // is published with an atomic compare-and-swap on first use
    // (swift-experimental-string-processing, Sources/_StringProcessing/Regex/Core.swift,
    // `Regex.Program.loweredProgram`), so concurrent matching is safe.
    private let regex: Regex<AnyRegexOutput>

    /// nil when the value is not a script the stdlib knows.
    init?(value: String, extensions: Bool) {
        guard !value.isEmpty,
            value.unicodeScalars.allSatisfy({ ScalarSet.isWordCharacter($0) }),
            let regex = try? Regex(#"\p{"# + (extensions ? "Script_Extensions=" : "Script=") + value + "}")
        else { return nil }
        self.regex = regex.matchingSemantics(.unicodeScalar)
    }

    func holds(for scalar: Unicode.Scalar) -> Bool {
        (try? regex.wholeMatch(in: String(Character(scalar)))) != nil
    }
}
