// libFuzzer harness: the data-file readers. Input: one byte picking the format (JSON Lines, CSV,
// TSV, headerless TSV), then the file's bytes (through a scratch file: the reader maps a path).
import FuzzSupport
import LSRTokenizers
import LSRTrain

@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    guard let mode = bytes.first else { return 0 }
    let formats: [DataFormat] = [.jsonl, .csv, .tsv, .cola]
    let format = formats[Int(mode) % formats.count]
    withScratchFile(Array(bytes[1...])) { path in
        if let dataset = try? DataSource.load(path: path, format: format) {
            blackHole(dataset)
            blackHole(try? dataset.regressionTargets())
        }
    }
    return 0
}

fuzzMain(test)
