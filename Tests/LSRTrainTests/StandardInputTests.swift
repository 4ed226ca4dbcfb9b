import Foundation
import LSRTrain
import Testing

/// `--data -`'s reader (DataStandardInput.swift): everything up to end of file, refused beyond
/// the limit, and a format required (standard input has no extension).
@Suite struct StandardInputTests {
    /// The bytes `readAll` gives from a pipe holding `bytes`, closed after them.
    func readThroughPipe(_ bytes: [UInt8], limit: Int) throws(DatasetError) -> [UInt8] {
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(Data(bytes))  // small: fits the pipe's buffer
        try? pipe.fileHandleForWriting.close()
        return try DataSource.readAll(descriptor: pipe.fileHandleForReading.fileDescriptor, name: "<stdin>", limit: limit)
    }

    @Test func readsToTheEndWithinTheLimit() throws {
        let bytes = (0..<1000).map { UInt8($0 % 251) }
        #expect(try readThroughPipe(bytes, limit: 1000) == bytes)
        #expect(try readThroughPipe([], limit: 0) == [])
    }

    @Test func refusesMoreThanTheLimit() {
        #expect(throws: DatasetError.inputTooLarge(file: "<stdin>", limit: 999)) { try readThroughPipe([UInt8](repeating: 7, count: 1000), limit: 999) }
        #expect(DatasetError.inputTooLarge(file: "<stdin>", limit: 999).description == "<stdin>: more than 999 bytes; give larger data as a file")
        #expect(DataSource.maxStandardInputBytes == 1 << 30)
    }

    @Test func standardInputNeedsAFormat() {
        #expect(throws: DatasetError.formatRequired(file: "<stdin>")) { try DataSource.load(path: "-") }
        #expect(
            DatasetError.formatRequired(file: "<stdin>").description
                == "<stdin>: standard input has no extension to tell the data format; name the format (jsonl, json, csv, tsv, cola)")
    }
}
