// libFuzzer harness: the JSON Schema compiler and validator (keywords, $ref/$anchor resolution,
// ECMA-262 `pattern`s). Input: a schema, then optionally a NUL byte and an instance; without an
// instance the schema is validated against itself.
import FuzzSupport
import LSRFormats
import LSRSchema

@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    let (schemaText, instanceText) = splitOnce(bytes[...], at: 0)
    guard let schemaValue = try? JSON.parse(Array(schemaText)),
        let schema = try? JSONSchema(schemaValue)
    else { return 0 }
    let instance = instanceText.isEmpty ? schemaValue : (try? JSON.parse(Array(instanceText))) ?? schemaValue
    blackHole(schema.validate(instance))
    return 0
}

fuzzMain(test)
