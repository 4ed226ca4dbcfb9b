import LSRFormats
import LSRTrain
import Testing
import TestSupport

/// Data files: JSON Lines, CSV and TSV, every GLUE task's layout, field defaults, label
/// resolution, and every error case with its exact value. Inputs are crafted strings written to
/// a temporary directory.
@Suite struct DatasetTests {
    let dir = TemporaryDirectory()

    private func write(_ name: String, _ text: String) -> String { dir.write(Array(text.utf8), to: name) }
    private func write(_ name: String, bytes: [UInt8]) -> String { dir.write(bytes, to: name) }

    /// The error `load` throws, or nil when it succeeds.
    private func loadError(
        _ path: String, format: DataFormat? = nil, fields: FieldSelection = .init(),
        labels: LabelRequirement = .optional, maxRowBytes: Int = DataSource.maxRowBytes
    ) -> DatasetError? {
        do {
            _ = try DataSource.load(path: path, format: format, fields: fields, labels: labels, maxRowBytes: maxRowBytes)
            return nil
        } catch {
            return error
        }
    }

    // MARK: - Formats

    @Test func jsonLines() throws {
        let path = write(
            "train.jsonl",
            "\u{FEFF}{\"text\": \"a\", \"text_pair\": \"b\", \"label\": \"pos\"}\r\n\n  \t\n"
                + "{\"text\": \"c\", \"text_pair\": null, \"label\": 1}\n"
                + "{\"label\": 2.5, \"text\": \"d\", \"id\": [1]}\n"
                + "{\"text\": \"e\\u00e9\", \"label\": null}")
        let data = try DataSource.load(path: path)
        #expect(data.format == .jsonl)
        #expect(data.fields == DatasetFields(text: "text", pair: "text_pair", label: "label"))
        #expect(
            data.examples == [
                Example(text: "a", pair: "b", label: .name("pos"), line: 1),
                Example(text: "c", pair: nil, label: .integer(1), line: 4),
                Example(text: "d", pair: nil, label: .real(2.5), line: 5),
                Example(text: "eé", pair: nil, label: nil, line: 6),
            ])
        // .json is JSON Lines too.
        let json = write("dev.json", "{\"sentence\": \"x\", \"label\": 0}\n")
        #expect(try DataSource.load(path: json).examples == [Example(text: "x", label: .integer(0), line: 1)])
    }

    @Test func csvFollowsRFC4180() throws {
        let path = write(
            "data.csv",
            "id,sentence,label\r\n"
                + "1,\"hello, \"\"world\"\"\",0\r\n"
                + "2,\"two\r\nlines\",1\r\n"
                + "\r\n"
                + "3,plain \"quote\" inside,\r\n"
                + "4,\"\",neg\n"
                + "5,last,2.5")
        let data = try DataSource.load(path: path)
        #expect(data.format == .csv)
        #expect(data.fields == DatasetFields(text: "sentence", pair: nil, label: "label"))
        #expect(
            data.examples == [
                Example(text: "hello, \"world\"", label: .integer(0), line: 2),
                Example(text: "two\r\nlines", label: .integer(1), line: 3),
                Example(text: "plain \"quote\" inside", label: nil, line: 6),
                Example(text: "", label: .name("neg"), line: 7),
                Example(text: "last", label: .real(2.5), line: 8),
            ])
    }

    @Test func tsvKeepsQuotesAsText() throws {
        // GLUE's TSVs hold unbalanced quotes (MNLI, QQP); they must not open a quoted field.
        let path = write(
            "train.tsv",
            "sentence\tlabel\r\n" + "he said \"hi\t1\r\n" + "\"quoted\"\tneg\r\n" + "\n" + "a \"\"b\tpos")
        let data = try DataSource.load(path: path)
        #expect(data.format == .tsv)
        #expect(
            data.examples == [
                Example(text: "he said \"hi", label: .integer(1), line: 2),
                Example(text: "\"quoted\"", label: .name("neg"), line: 3),
                Example(text: "a \"\"b", label: .name("pos"), line: 5),
            ])
    }

    @Test func formatFromExtensionOrName() throws {
        let text = "sentence\tlabel\nok\t1\n"
        #expect(try DataSource.load(path: write("UPPER.TSV", text)).format == .tsv)
        let data = try DataSource.load(path: write("data.txt", text), format: .tsv)
        #expect(data.examples == [Example(text: "ok", label: .integer(1), line: 2)])
        // An explicit format wins over the extension: this .csv holds tabs.
        #expect(try DataSource.load(path: write("tabs.csv", text), format: .tsv).examples.count == 1)
        #expect(DataFormat(name: "jsonl") == .jsonl)
        #expect(DataFormat(name: "json") == .jsonl)
        #expect(DataFormat(name: "CSV") == .csv)
        #expect(DataFormat(name: "tsv") == .tsv)
        #expect(DataFormat(name: "cola") == .tsvHeaderless(columns: ["source", "label", "original_label", "sentence"]))
        #expect(DataFormat(name: "xml") == nil)
        #expect(DataFormat(extensionOf: "dir.d/data") == nil)
        #expect(DataFormat(extensionOf: ".jsonl") == nil)
        #expect(DataFormat.cola.description == "cola")
        let unknown = write("data.txt", text)
        #expect(loadError(unknown) == .unknownFormat(file: unknown))
    }

    // MARK: - GLUE layouts

    /// One GLUE task file: its real header and two rows from it.
    struct GLUESample: Sendable, CustomStringConvertible {
        var task: String
        var format: DataFormat?
        var text: String
        var fields: DatasetFields
        var first: Example
        var description: String { task }
    }

    static let glue: [GLUESample] = [
        GLUESample(
            task: "SST-2", format: nil,
            text: "sentence\tlabel\nhide new secretions from the parental units \t0\n"
                + "contains no wit , only labored gags \t0\n",
            fields: DatasetFields(text: "sentence", label: "label"),
            first: Example(text: "hide new secretions from the parental units ", label: .integer(0), line: 2)),
        GLUESample(
            task: "SST-2 test", format: nil,
            text: "index\tsentence\n0\tuneasy mishmash of styles and genres .\n1\tthis film 's relationship to actual tension is the same as what christmas-tree flocking in a spray can is to actual snow : a poor -- if durable -- imitation .\n",
            fields: DatasetFields(text: "sentence"),
            first: Example(text: "uneasy mishmash of styles and genres .", line: 2)),
        GLUESample(
            task: "CoLA", format: .cola,
            text: "gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.\n"
                + "gj04\t0\t*\tThey drank the pub.\n" + "gj04\t1\t\tThe more we study verbs, the crazier they get.\n",
            fields: DatasetFields(text: "sentence", label: "label"),
            first: Example(text: "Our friends won't buy this analysis, let alone the next one we propose.", label: .integer(1), line: 1)),
        GLUESample(
            task: "MRPC", format: nil,
            text: "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                + "1\t702876\t702977\tAmrozi accused his brother , whom he called \" the witness \" , of deliberately distorting his evidence .\tReferring to him as only \" the witness \" , Amrozi accused his brother of deliberately distorting his evidence .\n"
                + "0\t2108705\t2108831\tYucaipa owned Dominick 's before selling the chain to Safeway in 1998 for $ 2.5 billion .\tYucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway for $ 1.8 billion in 1998 .\n",
            fields: DatasetFields(text: "#1 String", pair: "#2 String", label: "Quality"),
            first: Example(
                text: "Amrozi accused his brother , whom he called \" the witness \" , of deliberately distorting his evidence .",
                pair: "Referring to him as only \" the witness \" , Amrozi accused his brother of deliberately distorting his evidence .",
                label: .integer(1), line: 2)),
        GLUESample(
            task: "QNLI", format: nil,
            text: "index\tquestion\tsentence\tlabel\n"
                + "0\tWhen did the third Digimon series begin?\tUnlike the two seasons before it, Digimon Tamers takes a darker approach.\tnot_entailment\n"
                + "1\tWhich missile batteries often have individual launchers several kilometres from one another?\tWhen MANPADS is operated by specialists, batteries may have several dozen teams.\tnot_entailment\n",
            fields: DatasetFields(text: "question", pair: "sentence", label: "label"),
            first: Example(
                text: "When did the third Digimon series begin?",
                pair: "Unlike the two seasons before it, Digimon Tamers takes a darker approach.", label: .name("not_entailment"),
                line: 2)),
        GLUESample(
            task: "QQP", format: nil,
            text: "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                + "133273\t213221\t213222\tHow is the life of a math student? Could you describe your own experiences?\tWhich level of prepration is enough for the exam jlpt5?\t0\n"
                + "402555\t536040\t536041\tHow do I control my horny emotions?\tHow do you control your horniness?\t1\n",
            fields: DatasetFields(text: "question1", pair: "question2", label: "is_duplicate"),
            first: Example(
                text: "How is the life of a math student? Could you describe your own experiences?",
                pair: "Which level of prepration is enough for the exam jlpt5?", label: .integer(0), line: 2)),
        GLUESample(
            task: "RTE", format: nil,
            text: "index\tsentence1\tsentence2\tlabel\n"
                + "0\tNo Weapons of Mass Destruction Found in Iraq Yet.\tWeapons of Mass Destruction Found in Iraq.\tnot_entailment\n"
                + "1\tA place of sorrow, after Pope John Paul II died, became a place of celebration.\tPope Benedict XVI is the new leader of the Roman Catholic Church.\tentailment\n",
            fields: DatasetFields(text: "sentence1", pair: "sentence2", label: "label"),
            first: Example(
                text: "No Weapons of Mass Destruction Found in Iraq Yet.", pair: "Weapons of Mass Destruction Found in Iraq.",
                label: .name("not_entailment"), line: 2)),
        GLUESample(
            task: "WNLI", format: nil,
            text: "index\tsentence1\tsentence2\tlabel\n"
                + "0\tI stuck a pin through a carrot. When I pulled the pin out, it had a hole.\tThe carrot had a hole.\t1\n"
                + "1\tJohn couldn't see the stage with Billy in front of him because he is so short.\tJohn is so short.\t1\n",
            fields: DatasetFields(text: "sentence1", pair: "sentence2", label: "label"),
            first: Example(
                text: "I stuck a pin through a carrot. When I pulled the pin out, it had a hole.", pair: "The carrot had a hole.",
                label: .integer(1), line: 2)),
        GLUESample(
            task: "MNLI", format: nil,
            text: "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"
                + "0\t31193\t31193n\tgovernment\t( ( Conceptually ( cream skimming ) ) ( ( has ( ( ( two ( basic dimensions ) ) - ) ( ( product and ) geography ) ) ) . ) )\t( ( ( Product and ) geography ) ( ( are ( what ( make ( cream ( skimming work ) ) ) ) ) . ) )\t(ROOT (S (NP (JJ Conceptually) (NN cream) (NN skimming)) (VP (VBZ has)) (. .)))\t(ROOT (S (NP (NN Product)) (VP (VBP are)) (. .)))\tConceptually cream skimming has two basic dimensions - product and geography.\tProduct and geography are what make cream skimming work. \tneutral\tneutral\n"
                + "1\t101457\t101457e\ttelephone\t( you ( know ) )\t( You ( lose ) )\t(ROOT (S (NP (PRP you))))\t(ROOT (S (NP (PRP You))))\tyou know during the season and i guess at at your level uh you lose them to the next level\tYou lose the things to the following level if the people recall.\tentailment\tentailment\n",
            fields: DatasetFields(text: "sentence1", pair: "sentence2", label: "gold_label"),
            first: Example(
                text: "Conceptually cream skimming has two basic dimensions - product and geography.",
                pair: "Product and geography are what make cream skimming work. ", label: .name("neutral"), line: 2)),
        GLUESample(
            task: "STS-B", format: nil,
            text: "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
                + "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000\n"
                + "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a large flute.\tA man is playing a flute.\t3.800\n",
            fields: DatasetFields(text: "sentence1", pair: "sentence2", label: "score"),
            first: Example(text: "A plane is taking off.", pair: "An air plane is taking off.", label: .real(5), line: 2)),
    ]

    @Test(arguments: glue) func glueLayout(_ sample: GLUESample) throws {
        let path = write(sample.task.replacingOccurrences(of: " ", with: "_") + ".tsv", sample.text)
        let data = try DataSource.load(path: path, format: sample.format)
        #expect(data.fields == sample.fields)
        #expect(data.examples.first == sample.first)
        #expect(data.examples.count == (sample.format == .cola ? 3 : 2))
    }

    @Test func glueLabelsResolve() throws {
        let mnli = try DataSource.load(path: write("mnli.tsv", Self.glue.first { $0.task == "MNLI" }!.text))
        // roberta-large-mnli's config spells the labels in capitals.
        #expect(
            try mnli.resolveLabels(label2id: ["CONTRADICTION": 0, "NEUTRAL": 1, "ENTAILMENT": 2], numLabels: 3)
                == .classes([1, 2]))
        let stsb = try DataSource.load(path: write("stsb.tsv", Self.glue.first { $0.task == "STS-B" }!.text))
        #expect(try stsb.resolveLabels(label2id: [:], numLabels: 1) == .regression([5, 3.8]))
        let cola = try DataSource.load(path: write("cola.tsv", Self.glue.first { $0.task == "CoLA" }!.text), format: .cola)
        #expect(try cola.resolveLabels(label2id: ["LABEL_0": 0, "LABEL_1": 1], numLabels: 2) == .classes([1, 0, 1]))
    }

    // MARK: - Fields

    @Test func explicitFields() throws {
        let qnli = write("qnli.tsv", Self.glue.first { $0.task == "QNLI" }!.text)
        // "sentence" has no partner: single-text examples.
        let single = try DataSource.load(path: qnli, fields: FieldSelection(text: "sentence"))
        #expect(single.fields == DatasetFields(text: "sentence", pair: nil, label: "label"))
        #expect(single.examples[1].pair == nil)
        // An explicit text still finds its partner.
        #expect(try DataSource.load(path: qnli, fields: FieldSelection(text: "question")).fields.pair == "sentence")
        let swapped = try DataSource.load(path: qnli, fields: FieldSelection(text: "sentence", pair: "question", label: "index"))
        #expect(swapped.fields == DatasetFields(text: "sentence", pair: "question", label: "index"))
        #expect(swapped.examples[1].label == .integer(1))
        #expect(swapped.examples[1].pair == "Which missile batteries often have individual launchers several kilometres from one another?")
        // JSON Lines: the first object's keys decide.
        let jsonl = write("qa.jsonl", "{\"q\": \"why\", \"a\": \"because\", \"y\": \"yes\"}\n")
        let data = try DataSource.load(path: jsonl, fields: FieldSelection(text: "q", pair: "a", label: "y"))
        #expect(data.examples == [Example(text: "why", pair: "because", label: .name("yes"), line: 1)])
    }

    @Test func explicitFieldMissing() {
        let sst = write("sst.tsv", "sentence\tlabel\nok\t1\n")
        #expect(
            loadError(sst, fields: FieldSelection(text: "body"))
                == .missingField(file: sst, line: 1, role: .text, field: "body", available: ["sentence", "label"]))
        #expect(
            loadError(sst, fields: FieldSelection(pair: "sentence2"))
                == .missingField(file: sst, line: 1, role: .pair, field: "sentence2", available: ["sentence", "label"]))
        #expect(
            loadError(sst, fields: FieldSelection(label: "gold"))
                == .missingField(file: sst, line: 1, role: .label, field: "gold", available: ["sentence", "label"]))
        let jsonl = write("a.jsonl", "\n{\"sentence\": \"a\"}\n")
        #expect(
            loadError(jsonl, fields: FieldSelection(label: "label"))
                == .missingField(file: jsonl, line: 2, role: .label, field: "label", available: ["sentence"]))
    }

    @Test func noDefaultField() {
        let csv = write("body.csv", "body,label\nx,1\n")
        #expect(
            loadError(csv)
                == .noDefaultField(
                    file: csv, line: 1, role: .text, tried: FieldSelection.defaultTextFields, available: ["body", "label"]))
        let unlabelled = write("unlabelled.csv", "sentence\nx\n")
        #expect((try? DataSource.load(path: unlabelled))?.fields == DatasetFields(text: "sentence"))
        #expect(
            loadError(unlabelled, labels: .required)
                == .noDefaultField(
                    file: unlabelled, line: 1, role: .label, tried: FieldSelection.defaultLabelFields, available: ["sentence"]))
    }

    // MARK: - Errors in the bytes

    @Test func fileErrors() {
        let missing = dir.file("absent.jsonl")
        #expect(loadError(missing) == .unreadable(.notFound(path: missing)))
        #expect(loadError(dir.path, format: .jsonl) == .unreadable(.isDirectory(path: dir.path)))
    }

    @Test func emptyFiles() {
        for (name, bytes) in [
            ("empty.csv", [UInt8]()), ("bom.jsonl", [0xEF, 0xBB, 0xBF]), ("blank.jsonl", Array("\n  \n\t\r\n".utf8)),
            ("blank.tsv", Array("\r\n\n".utf8)), ("blank.csv", Array("\n\r\n\r".utf8)),
        ] {
            let path = write(name, bytes: bytes)
            #expect(loadError(path) == .emptyFile(file: path), "\(name)")
        }
        let cola = write("cola.tsv", "")
        #expect(loadError(cola, format: .cola) == .emptyFile(file: cola))
        let headerOnly = write("header.tsv", "sentence\tlabel\n\n")
        #expect(loadError(headerOnly) == .noExamples(file: headerOnly))
        let csvHeaderOnly = write("header.csv", "sentence,label")
        #expect(loadError(csvHeaderOnly) == .noExamples(file: csvHeaderOnly))
    }

    @Test func invalidUTF8() {
        // Each bad sequence is placed at byte 12 on line 3: "text\n" + "ok\n" + "bad " + sequence.
        let bad: [[UInt8]] = [
            [0xC3, 0x28],  // a lead byte without its continuation
            [0xC0, 0x80],  // overlong NUL
            [0xE0, 0x80, 0x80],  // overlong three-byte form
            [0xED, 0xA0, 0x80],  // a UTF-16 surrogate
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0xF5, 0x80, 0x80, 0x80],  // never a lead byte
            [0x80],  // a stray continuation byte
            [0xE2, 0x82],  // truncated at the end of the file
        ]
        for sequence in bad {
            let path = write("bad.tsv", bytes: Array("text\nok\nbad ".utf8) + sequence)
            #expect(loadError(path) == .invalidUTF8(file: path, line: 3, offset: 12), "\(sequence)")
        }
        // Valid multi-byte text passes (2, 3 and 4 bytes), with the BOM skipped.
        let good = write("good.tsv", bytes: [0xEF, 0xBB, 0xBF] + Array("text\néß€𝄞 long ascii run here\n".utf8))
        #expect((try? DataSource.load(path: good))?.examples == [Example(text: "éß€𝄞 long ascii run here", line: 2)])
        // A BOM anywhere but the start is not skipped: it is text.
        let jsonl = write("bom.jsonl", bytes: Array("{\"text\":\"a\"}\n".utf8) + [0xEF, 0xBB, 0xBF] + Array("{}".utf8))
        #expect(
            loadError(jsonl) == .invalidJSON(file: jsonl, line: 2, offset: 13, reason: "invalid utf-8 string"))
    }

    @Test func jsonLineErrors() {
        let syntax = write("syntax.jsonl", "{\"text\": \"a\"}\n{\"text\": }\n")
        #expect(loadError(syntax) == .invalidJSON(file: syntax, line: 2, offset: 23, reason: "unexpected character"))
        let truncated = write("truncated.jsonl", "{\"text\": \"a\"\n")
        #expect(loadError(truncated) == .invalidJSON(file: truncated, line: 1, offset: 12, reason: "the line ends inside a value"))
        let duplicate = write("duplicate.jsonl", "{\"text\": \"a\", \"text\": \"b\"}\n")
        #expect(loadError(duplicate) == .invalidJSON(file: duplicate, line: 1, offset: 14, reason: "duplicate key \"text\""))
        let trailing = write("trailing.jsonl", "\n{\"text\": \"a\"} x\n")
        #expect(loadError(trailing) == .invalidJSON(file: trailing, line: 2, offset: 15, reason: "unexpected data after the JSON value"))
        let array = write("array.jsonl", "[{\"text\": \"a\"}]\n")
        #expect(loadError(array) == .notAnObject(file: array, line: 1, kind: "array"))
        let string = write("string.jsonl", "{\"text\": \"a\"}\n\"b\"\n")
        #expect(loadError(string) == .notAnObject(file: string, line: 2, kind: "string"))
        let noText = write("notext.jsonl", "{\"text\": \"a\"}\n{\"sentence\": \"b\", \"label\": 1}\n")
        #expect(
            loadError(noText) == .missingField(file: noText, line: 2, role: .text, field: "text", available: ["sentence", "label"]))
        let number = write("number.jsonl", "{\"text\": 5}\n")
        #expect(loadError(number) == .wrongType(file: number, line: 1, field: "text", expected: "string", found: "integer"))
        let nullText = write("null.jsonl", "{\"text\": \"a\"}\n{\"text\": null}\n")
        #expect(loadError(nullText) == .wrongType(file: nullText, line: 2, field: "text", expected: "string", found: "null"))
        let pair = write("pair.jsonl", "{\"sentence1\": \"a\", \"sentence2\": [\"b\"]}\n")
        #expect(loadError(pair) == .wrongType(file: pair, line: 1, field: "sentence2", expected: "string", found: "array"))
        let label = write("label.jsonl", "{\"text\": \"a\", \"label\": true}\n")
        #expect(
            loadError(label) == .wrongType(file: label, line: 1, field: "label", expected: "string or number", found: "boolean"))
    }

    @Test func delimitedErrors() {
        let fewer = write("fewer.csv", "a,b\n1,2\n3\n")
        #expect(loadError(fewer, fields: FieldSelection(text: "a")) == .columnCount(file: fewer, line: 3, offset: 8, expected: 2, found: 1))
        let more = write("more.tsv", "sentence\tlabel\nx\t1\t2\n")
        #expect(loadError(more) == .columnCount(file: more, line: 2, offset: 15, expected: 2, found: 3))
        // Line numbers count the lines inside quoted fields.
        let after = write("after.csv", "text,label\n\"a\nb\",1\nc\n")
        #expect(loadError(after) == .columnCount(file: after, line: 4, offset: 19, expected: 2, found: 1))
        let cola = write("cola.tsv", "gj04\t1\t\tok.\ngj04\t1\tbad.\n")
        #expect(loadError(cola, format: .cola) == .columnCount(file: cola, line: 2, offset: 12, expected: 4, found: 3))
        let unterminated = write("open.csv", "text,label\n\"abc,1\nxyz,0\n")
        #expect(loadError(unterminated) == .unterminatedQuote(file: unterminated, line: 2, offset: 11))
        let afterQuote = write("afterquote.csv", "text,label\n\"ab\"c,1\n")
        #expect(loadError(afterQuote) == .textAfterQuote(file: afterQuote, line: 2, offset: 15))
        let lone = write("lonecr.csv", "text,label\n\"ab\"\r,1\n")
        #expect(loadError(lone) == .textAfterQuote(file: lone, line: 2, offset: 15))
        let duplicate = write("duplicate.csv", "text,label,text\na,1,b\n")
        #expect(loadError(duplicate) == .duplicateColumn(file: duplicate, line: 1, column: "text"))
        let blankFirst = write("blank.tsv", "\n\nsentence\tsentence\nx\ty\n")
        #expect(loadError(blankFirst) == .duplicateColumn(file: blankFirst, line: 3, column: "sentence"))
    }

    @Test func rowLimit() throws {
        // Rows of exactly the limit pass (the line end not counted); one byte more fails.
        let limit = 8
        let tsv = write("rows.tsv", "text\n12345678\r\n123456789\n")
        #expect(loadError(tsv, maxRowBytes: limit) == .rowTooLong(file: tsv, line: 3, offset: 15, limit: limit))
        let exact = write("exact.tsv", "text\n12345678\n1234567")
        #expect(try DataSource.load(path: exact, maxRowBytes: limit).examples.map(\.text) == ["12345678", "1234567"])
        let csv = write("rows.csv", "text\n\"1234\"\"56\"\n\"1234567\"\n")
        #expect(try DataSource.load(path: csv, maxRowBytes: 10).examples.map(\.text) == ["1234\"56", "1234567"])
        #expect(loadError(csv, maxRowBytes: 8) == .rowTooLong(file: csv, line: 2, offset: 5, limit: 8))
        // A missing closing quote stops at the limit, not at the end of a large file.
        let open = write("open.csv", "text\n\"" + String(repeating: "abc\n", count: 100))
        #expect(loadError(open, maxRowBytes: 64) == .rowTooLong(file: open, line: 2, offset: 5, limit: 64))
        #expect(loadError(open) == .unterminatedQuote(file: open, line: 2, offset: 5))
        let unquoted = write("long.csv", "text\n123456789,\n")
        #expect(loadError(unquoted, maxRowBytes: 8) == .rowTooLong(file: unquoted, line: 2, offset: 5, limit: 8))
        let jsonl = write("long.jsonl", "{\"text\":\"a\"}\n{\"text\":\"ab\"}\n")
        #expect(loadError(jsonl, maxRowBytes: 12) == .rowTooLong(file: jsonl, line: 2, offset: 13, limit: 12))
        #expect(DataSource.maxRowBytes == 16 << 20)
    }

    @Test func requiredLabels() throws {
        let csv = write("labels.csv", "sentence,label\nx,1\ny,\n")
        #expect(try DataSource.load(path: csv).examples[1].label == nil)
        #expect(loadError(csv, labels: .required) == .missingLabel(file: csv, line: 3, field: "label"))
        let jsonl = write("labels.jsonl", "{\"text\": \"a\", \"label\": 0}\n{\"text\": \"b\"}\n{\"text\": \"c\", \"label\": null}\n")
        #expect(try DataSource.load(path: jsonl).examples.map(\.label) == [.integer(0), nil, nil])
        #expect(loadError(jsonl, labels: .required) == .missingLabel(file: jsonl, line: 2, field: "label"))
    }

    // MARK: - Labels

    @Test func labelValuesFromText() {
        #expect(LabelValue(text: "0") == .integer(0))
        #expect(LabelValue(text: "-3") == .integer(-3))
        #expect(LabelValue(text: "3.800") == .real(3.8))
        #expect(LabelValue(text: "1e2") == .real(100))
        #expect(LabelValue(text: "nan") == .name("nan"))
        #expect(LabelValue(text: "inf") == .name("inf"))
        #expect(LabelValue(text: " 1") == .name(" 1"))
        #expect(LabelValue(text: "entailment") == .name("entailment"))
        #expect(LabelValue(text: "99999999999999999999") == .real(1e20))
    }

    private func dataset(_ labels: [LabelValue?]) -> Dataset {
        Dataset(
            path: "d.jsonl", format: .jsonl, fields: DatasetFields(text: "text", label: "label"),
            examples: labels.enumerated().map { Example(text: "t", label: $1, line: $0 + 1) })
    }

    @Test func classIDs() throws {
        let map = ["neg": 0, "pos": 1, "Neutral": 2]
        let data = dataset([.name("pos"), .name("0"), .name("2"), .name("neg"), .name("NEUTRAL"), .name("neutral")])
        #expect(try data.resolveLabels(label2id: map, numLabels: 3) == .classes([1, 0, 2, 0, 2, 2]))
        #expect(try data.classIDs(label2id: map, numLabels: 3) == [1, 0, 2, 0, 2, 2])
        // A name in the map wins over reading it as an integer.
        #expect(try dataset([.name("1")]).classIDs(label2id: ["1": 0, "0": 1], numLabels: 2) == [0])
        // Names that differ only in case in the map are matched exactly only.
        let ambiguous = ["a": 0, "A": 1]
        #expect(try dataset([.name("A")]).classIDs(label2id: ambiguous, numLabels: 2) == [1])
        #expect(throws: DatasetError.unknownLabel(file: "d.jsonl", line: 1, value: .name("á"), known: ["a", "A"])) {
            try dataset([.name("á")]).classIDs(label2id: ambiguous, numLabels: 2)
        }
        // One file, one kind of label: JSON names and JSON numbers mixed are refused (issue 6).
        #expect(throws: DatasetError.mixedLabelKinds(file: "d.jsonl", line: 2, value: .integer(0), firstLine: 1, firstValue: .name("pos"))) {
            try dataset([.name("pos"), .integer(0)]).classIDs(label2id: map, numLabels: 3)
        }
        #expect(try dataset([.integer(1), .integer(0)]).classIDs(label2id: map, numLabels: 3) == [1, 0])
    }

    @Test func labelErrors() {
        let map = ["neg": 0, "pos": 1]
        #expect(throws: DatasetError.labelOutOfRange(file: "d.jsonl", line: 2, value: .integer(2), numLabels: 2)) {
            try dataset([.integer(1), .integer(2)]).resolveLabels(label2id: map, numLabels: 2)
        }
        #expect(throws: DatasetError.labelOutOfRange(file: "d.jsonl", line: 1, value: .integer(-1), numLabels: 2)) {
            try dataset([.integer(-1)]).resolveLabels(label2id: map, numLabels: 2)
        }
        #expect(throws: DatasetError.labelOutOfRange(file: "d.jsonl", line: 1, value: .name("7"), numLabels: 2)) {
            try dataset([.name("7")]).resolveLabels(label2id: map, numLabels: 2)
        }
        // A label map that points past the head is reported on the first label that uses it.
        #expect(throws: DatasetError.labelOutOfRange(file: "d.jsonl", line: 1, value: .name("x"), numLabels: 2)) {
            try dataset([.name("x")]).resolveLabels(label2id: ["x": 5], numLabels: 2)
        }
        #expect(throws: DatasetError.unknownLabel(file: "d.jsonl", line: 3, value: .name("neutral"), known: ["neg", "pos"])) {
            try dataset([.name("pos"), .name("neg"), .name("neutral")]).resolveLabels(label2id: map, numLabels: 2)
        }
        #expect(throws: DatasetError.realLabelForClassifier(file: "d.jsonl", line: 1, value: .real(1.0), numLabels: 2)) {
            try dataset([.real(1.0)]).resolveLabels(label2id: map, numLabels: 2)
        }
        #expect(throws: DatasetError.missingLabel(file: "d.jsonl", line: 2, field: "label")) {
            try dataset([.integer(0), nil]).resolveLabels(label2id: map, numLabels: 2)
        }
        var unlabelled = dataset([nil])
        unlabelled.fields.label = nil
        #expect(throws: DatasetError.missingLabel(file: "d.jsonl", line: 1, field: nil)) {
            try unlabelled.resolveLabels(label2id: [:], numLabels: 1)
        }
        #expect(throws: DatasetError.invalidLabelCount(file: "d.jsonl", numLabels: 0)) {
            try dataset([.integer(0)]).resolveLabels(label2id: [:], numLabels: 0)
        }
        #expect(throws: DatasetError.invalidLabelCount(file: "d.jsonl", numLabels: -1)) {
            try dataset([.integer(0)]).classIDs(label2id: [:], numLabels: -1)
        }
    }

    @Test func regressionTargets() throws {
        let data = dataset([.real(3.8), .integer(5), .name("0.25")])
        #expect(try data.resolveLabels(label2id: ["LABEL_0": 0], numLabels: 1) == .regression([3.8, 5, 0.25]))
        #expect(try data.regressionTargets() == [3.8, 5, 0.25])
        for bad in [LabelValue.name("high"), .name("nan"), .real(1e39)] {
            #expect(throws: DatasetError.invalidRegressionTarget(file: "d.jsonl", line: 2, value: bad)) {
                try dataset([.real(1), bad]).regressionTargets()
            }
        }
    }

    // MARK: - Messages

    @Test func messagesAreOneLineNamingTheFile() {
        let f = "data/train.tsv"
        let errors: [(DatasetError, String)] = [
            (.unknownFormat(file: f), "data/train.tsv: cannot tell the data format from the extension; expected .jsonl, .json, .csv or .tsv, or name the format"),
            (.emptyFile(file: f), "data/train.tsv: the file is empty: no header row and no examples"),
            (.noExamples(file: f), "data/train.tsv: the file has a header row but no examples"),
            (.invalidUTF8(file: f, line: 3, offset: 12), "data/train.tsv: line 3: invalid UTF-8 at byte 12"),
            (.rowTooLong(file: f, line: 2, offset: 5, limit: 8), "data/train.tsv: line 2: the row at byte 5 is longer than 8 bytes"),
            (.invalidJSON(file: f, line: 2, offset: 23, reason: "unexpected character"), "data/train.tsv: line 2: invalid JSON at byte 23: unexpected character"),
            (.notAnObject(file: f, line: 1, kind: "array"), "data/train.tsv: line 1: the line is a JSON array, expected an object"),
            (.missingField(file: f, line: 1, role: .text, field: "body", available: ["sentence", "label"]),
             "data/train.tsv: line 1: no field \"body\" (text); available: \"sentence\", \"label\""),
            (.noDefaultField(file: f, line: 1, role: .label, tried: ["label", "score"], available: []),
             "data/train.tsv: line 1: no label field among \"label\", \"score\"; available: none"),
            (.wrongType(file: f, line: 4, field: "text", expected: "string", found: "integer"),
             "data/train.tsv: line 4: field \"text\" is a JSON integer, expected string"),
            (.duplicateColumn(file: f, line: 1, column: "text"), "data/train.tsv: line 1: column \"text\" appears twice in the header"),
            (.columnCount(file: f, line: 3, offset: 8, expected: 2, found: 1), "data/train.tsv: line 3: row at byte 8 has 1 columns, expected 2"),
            (.unterminatedQuote(file: f, line: 2, offset: 11), "data/train.tsv: line 2: the quoted field opened at byte 11 is never closed"),
            (.textAfterQuote(file: f, line: 2, offset: 15), "data/train.tsv: line 2: unexpected character after a closing quote at byte 15"),
            (.missingLabel(file: f, line: 3, field: "label"), "data/train.tsv: line 3: the example has no label (field \"label\" is empty or absent)"),
            (.missingLabel(file: f, line: 3, field: nil), "data/train.tsv: line 3: the example has no label (the file has no label field)"),
            (.labelOutOfRange(file: f, line: 2, value: .integer(2), numLabels: 2), "data/train.tsv: line 2: label 2 is outside 0..<2 (the model has 2 labels)"),
            (.unknownLabel(file: f, line: 3, value: .name("neutral"), known: ["neg", "pos"]),
             "data/train.tsv: line 3: label \"neutral\" is not one of the model's labels (\"neg\", \"pos\") nor an integer class id"),
            (.realLabelForClassifier(file: f, line: 1, value: .real(0.5), numLabels: 2),
             "data/train.tsv: line 1: label 0.5 is a real number, but the model classifies into 2 labels (regression has 1)"),
            (.invalidRegressionTarget(file: f, line: 2, value: .name("high")), "data/train.tsv: line 2: regression target \"high\" is not a finite number"),
            (.invalidLabelCount(file: f, numLabels: 0), "data/train.tsv: the model's label count 0 is not positive"),
            (.unreadable(.notFound(path: f)), "data/train.tsv: no such file or directory"),
        ]
        for (error, message) in errors {
            #expect(error.description == message)
            #expect(!error.description.contains("\n"))
        }
    }
}
