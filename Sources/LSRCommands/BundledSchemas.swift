import LSRFormats

/// The JSON Schemas of schemas/ (repository root), compiled into the binary so that `lsrconv
/// schema` and `lsrconv validate` work from a lone copy of the executable (no SwiftPM
/// resources). Each text is the file's, byte for byte: a test (BundledSchemaTests) compares
/// them, so edit the file in schemas/ and paste its text here, indented by 8 spaces between
/// the `##"""` delimiters, with one empty line before the closing one (the file's final
/// newline).
public enum BundledSchemas {
    /// One bundled schema: `name` is its file name without `.schema.json`.
    public struct Schema: Sendable {
        public let name: String
        public let text: String

        /// The file it comes from, relative to the repository root.
        public var fileName: String { "schemas/\(name).schema.json" }

        /// The parsed document (the texts are checked JSON: see BundledSchemaTests).
        public var document: JSONValue { (try? JSON.parse(text)) ?? .null }
    }

    /// Every bundled schema: the adapter config first, then the `--json` outputs.
    public static let all: [Schema] = [
        Schema(name: "lsr-adapter", text: lsrAdapter),
        Schema(name: "inspect-output", text: inspectOutput),
        Schema(name: "import-output", text: importOutput),
        Schema(name: "predict-output", text: predictOutput),
        Schema(name: "predict-line", text: predictLine),
        Schema(name: "tokenize-output", text: tokenizeOutput),
        Schema(name: "validate-output", text: validateOutput),
    ]

    /// The schema called `name` ("lsr-adapter"), also accepted with its file suffix
    /// ("lsr-adapter.schema.json").
    public static func named(_ name: String) -> Schema? {
        let bare = name.hasSuffix(".schema.json") ? String(name.dropLast(".schema.json".count)) : name
        return all.first { $0.name == bare }
    }

    /// The schema whose `$id` is `id`.
    public static func identified(by id: String) -> Schema? {
        all.first { $0.document["$id"]?.stringValue == id }
    }

    // MARK: - schemas/lsr-adapter.schema.json

    static let lsrAdapter = ##"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "urn:lsrconv:schema:lsr-adapter:1",
          "title": "LSR adapter config",
          "description": "adapter_config.json of an lsrconv adapter directory: the hyperparameters, the base model it was made for, and every adapted module with the names and shapes of its factor tensors in adapter_model.safetensors (float32). LSR: Up = Σₖ λᵘₖ·(Lᵘₖ ⊗ Rᵘₖ) [out×r], Down = Σₖ λᵈₖ·(Lᵈₖ ⊗ Rᵈₖ) [r×in]; LoRA: Up and Down as plain matrices; ΔW = (alpha/rank)·Up·Down.",
          "type": "object",
          "required": ["$schema", "format_version", "kind", "rank", "alpha", "scaling", "targets", "base_model", "modules", "head"],
          "properties": {
            "$schema": {
              "description": "The schema this document follows: this schema's $id.",
              "const": "urn:lsrconv:schema:lsr-adapter:1"
            },
            "format_version": {
              "description": "Version of the adapter format; this schema describes version 1.",
              "const": 1
            },
            "kind": {
              "description": "lsr: Up and Down are sums of Kronecker products (LSR-Adapt); lora: Up and Down are plain matrices (LoRA).",
              "enum": ["lsr", "lora"]
            },
            "rank": {
              "description": "r: Up is [out×r], Down is [r×in].",
              "type": "integer",
              "minimum": 1
            },
            "separation_rank": {
              "description": "s: Kronecker terms in each of Up and Down (kind lsr only).",
              "type": "integer",
              "minimum": 1
            },
            "rank_split": {
              "description": "[r1, r2] with r1·r2 = rank: the rank's split between the left and right factors, shared by every module (kind lsr only).",
              "$ref": "#/$defs/split"
            },
            "trainable_scales": {
              "description": "Whether the scales λ were trained; otherwise they are fixed at 1 (kind lsr only).",
              "type": "boolean"
            },
            "alpha": {
              "description": "α: ΔW = (α/r)·Up·Down, as PEFT's lora_alpha.",
              "type": "number"
            },
            "scaling": {
              "description": "α/r, recorded for readers; ΔW = scaling·Up·Down.",
              "type": "number"
            },
            "targets": {
              "description": "The module names adapted in every encoder layer.",
              "type": "array",
              "minItems": 1,
              "uniqueItems": true,
              "items": {
                "description": "A target: query, key, value (attention.self.*) or one of the dense layers.",
                "enum": ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]
              }
            },
            "base_model": {
              "description": "The RoBERTa model the adapter was made for: the sizes that must match to apply it, and its weight files.",
              "type": "object",
              "required": ["model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size", "weights"],
              "properties": {
                "model_type": {
                  "description": "Always roberta.",
                  "const": "roberta"
                },
                "hidden_size": {
                  "description": "config.json hidden_size.",
                  "type": "integer",
                  "minimum": 1
                },
                "num_hidden_layers": {
                  "description": "config.json num_hidden_layers.",
                  "type": "integer",
                  "minimum": 1
                },
                "num_attention_heads": {
                  "description": "config.json num_attention_heads.",
                  "type": "integer",
                  "minimum": 1
                },
                "intermediate_size": {
                  "description": "config.json intermediate_size.",
                  "type": "integer",
                  "minimum": 1
                },
                "vocab_size": {
                  "description": "config.json vocab_size.",
                  "type": "integer",
                  "minimum": 1
                },
                "weights": {
                  "description": "The base model's weight files when the adapter was made (empty when unknown); a model whose files hash otherwise is another model or another version.",
                  "type": "array",
                  "items": {
                    "description": "One weight file.",
                    "type": "object",
                    "required": ["file", "sha256"],
                    "properties": {
                      "file": {
                        "description": "The file's name inside the model directory (no directory part).",
                        "type": "string",
                        "pattern": "^[^/\\\\]+$"
                      },
                      "sha256": {
                        "description": "SHA-256 of the whole file, 64 lowercase hex digits.",
                        "type": "string",
                        "pattern": "^[0-9a-f]{64}$"
                      }
                    },
                    "additionalProperties": false
                  }
                }
              },
              "additionalProperties": false
            },
            "modules": {
              "description": "Every adapted Linear layer, in the order of the tensors in adapter_model.safetensors. The shape of each entry depends on kind.",
              "type": "array",
              "minItems": 1
            },
            "head": {
              "description": "The trained sequence-classification head that replaces the base model's, or null when the adapter trains none.",
              "type": ["object", "null"],
              "$ref": "#/$defs/head"
            }
          },
          "additionalProperties": false,
          "if": {
            "properties": { "kind": { "description": "For kind lsr...", "const": "lsr" } }
          },
          "then": {
            "required": ["separation_rank", "rank_split", "trainable_scales"],
            "properties": {
              "modules": { "description": "kind lsr: every module has Kronecker-sum factors.", "items": { "$ref": "#/$defs/lsrModule" } }
            }
          },
          "else": {
            "properties": {
              "separation_rank": false,
              "rank_split": false,
              "trainable_scales": false,
              "modules": { "description": "kind lora: every module has plain matrices.", "items": { "$ref": "#/$defs/loraModule" } }
            }
          },
          "$defs": {
            "split": {
              "description": "Two positive integers [n1, n2]: a dimension n = n1·n2 split between the left and right Kronecker factors.",
              "type": "array",
              "prefixItems": [{ "type": "integer", "minimum": 1 }, { "type": "integer", "minimum": 1 }],
              "minItems": 2,
              "maxItems": 2
            },
            "tensor": {
              "description": "A tensor of adapter_model.safetensors: its name and shape.",
              "type": "object",
              "required": ["tensor", "shape"],
              "properties": {
                "tensor": {
                  "description": "The tensor's name in adapter_model.safetensors.",
                  "type": "string",
                  "minLength": 1
                },
                "shape": {
                  "description": "The tensor's shape, row-major.",
                  "type": "array",
                  "items": { "type": "integer", "minimum": 0 }
                }
              },
              "additionalProperties": false
            },
            "tensor1": {
              "description": "A tensor of one dimension.",
              "$ref": "#/$defs/tensor",
              "properties": { "shape": { "description": "One dimension.", "minItems": 1, "maxItems": 1 } }
            },
            "tensor2": {
              "description": "A tensor of two dimensions.",
              "$ref": "#/$defs/tensor",
              "properties": { "shape": { "description": "Two dimensions.", "minItems": 2, "maxItems": 2 } }
            },
            "tensor3": {
              "description": "A tensor of three dimensions.",
              "$ref": "#/$defs/tensor",
              "properties": { "shape": { "description": "Three dimensions.", "minItems": 3, "maxItems": 3 } }
            },
            "moduleName": {
              "description": "transformers' path of the adapted Linear layer.",
              "type": "string",
              "pattern": "^roberta\\.encoder\\.layer\\.[0-9]+\\.(attention\\.self\\.(query|key|value)|attention\\.output\\.dense|intermediate\\.dense|output\\.dense)$"
            },
            "kroneckerSum": {
              "description": "A sum of s Kronecker products Σₖ λₖ·(Lₖ ⊗ Rₖ) (numpy.kron, row-major), stored stacked.",
              "type": "object",
              "required": ["left", "right", "scales"],
              "properties": {
                "left": {
                  "description": "L stacked: [s, rows of L, columns of L] (Up: [s, o1, r1]; Down: [s, r1, i1]).",
                  "$ref": "#/$defs/tensor3"
                },
                "right": {
                  "description": "R stacked: [s, rows of R, columns of R] (Up: [s, o2, r2]; Down: [s, r2, i2]).",
                  "$ref": "#/$defs/tensor3"
                },
                "scales": {
                  "description": "λ: [s].",
                  "$ref": "#/$defs/tensor1"
                }
              },
              "additionalProperties": false
            },
            "matrix": {
              "description": "A plain matrix.",
              "type": "object",
              "required": ["weight"],
              "properties": {
                "weight": {
                  "description": "The matrix (Up: [out, r], LoRA's B; Down: [r, in], LoRA's A).",
                  "$ref": "#/$defs/tensor2"
                }
              },
              "additionalProperties": false
            },
            "lsrModule": {
              "description": "An LSR-adapted Linear layer W [out×in].",
              "type": "object",
              "required": ["name", "out_features", "in_features", "out_split", "in_split", "up", "down"],
              "properties": {
                "name": {
                  "description": "transformers' module path, e.g. roberta.encoder.layer.0.attention.self.query.",
                  "$ref": "#/$defs/moduleName"
                },
                "out_features": {
                  "description": "Rows of W (out).",
                  "type": "integer",
                  "minimum": 1
                },
                "in_features": {
                  "description": "Columns of W (in).",
                  "type": "integer",
                  "minimum": 1
                },
                "out_split": {
                  "description": "[o1, o2] with o1·o2 = out_features.",
                  "$ref": "#/$defs/split"
                },
                "in_split": {
                  "description": "[i1, i2] with i1·i2 = in_features.",
                  "$ref": "#/$defs/split"
                },
                "up": {
                  "description": "Up [out×r] = Σₖ λᵘₖ·(Lᵘₖ ⊗ Rᵘₖ), Lᵘₖ [o1×r1], Rᵘₖ [o2×r2].",
                  "$ref": "#/$defs/kroneckerSum"
                },
                "down": {
                  "description": "Down [r×in] = Σₖ λᵈₖ·(Lᵈₖ ⊗ Rᵈₖ), Lᵈₖ [r1×i1], Rᵈₖ [r2×i2].",
                  "$ref": "#/$defs/kroneckerSum"
                }
              },
              "unevaluatedProperties": false
            },
            "loraModule": {
              "description": "A LoRA-adapted Linear layer W [out×in].",
              "type": "object",
              "required": ["name", "out_features", "in_features", "up", "down"],
              "properties": {
                "name": {
                  "description": "transformers' module path, e.g. roberta.encoder.layer.0.attention.self.query.",
                  "$ref": "#/$defs/moduleName"
                },
                "out_features": {
                  "description": "Rows of W (out).",
                  "type": "integer",
                  "minimum": 1
                },
                "in_features": {
                  "description": "Columns of W (in).",
                  "type": "integer",
                  "minimum": 1
                },
                "up": {
                  "description": "Up [out×r] (LoRA's B).",
                  "$ref": "#/$defs/matrix"
                },
                "down": {
                  "description": "Down [r×in] (LoRA's A).",
                  "$ref": "#/$defs/matrix"
                }
              },
              "unevaluatedProperties": false
            },
            "head": {
              "description": "A trained RobertaForSequenceClassification head (its members, when it is an object).",
              "required": ["num_labels", "id2label", "tensors"],
              "properties": {
                "num_labels": {
                  "description": "Outputs of classifier.out_proj (1: regression).",
                  "type": "integer",
                  "minimum": 1
                },
                "id2label": {
                  "description": "Label names by id, as in config.json.",
                  "type": "object",
                  "propertyNames": { "pattern": "^(0|[1-9][0-9]*)$" },
                  "additionalProperties": { "type": "string" }
                },
                "tensors": {
                  "description": "The head's tensors under their transformers names, stored in adapter_model.safetensors.",
                  "type": "array",
                  "minItems": 1,
                  "items": {
                    "description": "One head tensor.",
                    "$ref": "#/$defs/tensor",
                    "properties": {
                      "tensor": { "description": "classifier.dense.* or classifier.out_proj.*.", "pattern": "^classifier\\.(dense|out_proj)\\.(weight|bias)$" }
                    }
                  }
                }
              },
              "additionalProperties": false
            }
          }
        }

        """##

    // MARK: - schemas/inspect-output.schema.json

    static let inspectOutput = ##"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "urn:lsrconv:schema:inspect-output:1",
          "title": "lsrconv inspect --json",
          "description": "What `lsrconv inspect PATH --json` prints: the checkpoint's format, files, metadata, tensors (from the headers) and, for a RoBERTa, its architecture.",
          "type": "object",
          "required": ["path", "format", "files", "metadata", "tensor_count", "parameters", "bytes", "dtypes", "architecture", "tensors"],
          "properties": {
            "path": {
              "description": "PATH as given on the command line.",
              "type": "string"
            },
            "format": {
              "description": "The format detected from the bytes.",
              "enum": ["safetensors", "safetensors (sharded)", "pytorch zip", "pytorch legacy", "pytorch zip (sharded)"]
            },
            "files": {
              "description": "The files read (several for a sharded checkpoint).",
              "type": "array",
              "minItems": 1,
              "items": { "description": "A file path.", "type": "string" }
            },
            "metadata": {
              "description": "String metadata of the file (safetensors __metadata__); empty for PyTorch checkpoints.",
              "type": "object",
              "additionalProperties": { "type": "string" }
            },
            "tensor_count": {
              "description": "Number of tensors.",
              "type": "integer",
              "minimum": 0
            },
            "parameters": {
              "description": "Total number of elements over all tensors.",
              "type": "integer",
              "minimum": 0
            },
            "bytes": {
              "description": "Total bytes of tensor data.",
              "type": "integer",
              "minimum": 0
            },
            "dtypes": {
              "description": "Number of tensors of each dtype (safetensors dtype names).",
              "type": "object",
              "propertyNames": { "$ref": "#/$defs/dtype" },
              "additionalProperties": { "type": "integer", "minimum": 1 }
            },
            "architecture": {
              "description": "The RoBERTa architecture the tensors' shapes and the config give, or null when the checkpoint is no RoBERTa.",
              "type": ["object", "null"],
              "$ref": "#/$defs/architecture"
            },
            "tensors": {
              "description": "Every tensor, in file order.",
              "type": "array",
              "items": {
                "description": "One tensor.",
                "type": "object",
                "required": ["name", "dtype", "shape", "bytes"],
                "properties": {
                  "name": {
                    "description": "The tensor's name as stored (not made canonical).",
                    "type": "string"
                  },
                  "dtype": {
                    "description": "safetensors dtype name.",
                    "$ref": "#/$defs/dtype"
                  },
                  "shape": {
                    "description": "Dimensions, row-major.",
                    "type": "array",
                    "items": { "type": "integer", "minimum": 0 }
                  },
                  "bytes": {
                    "description": "Size of the tensor's data in bytes.",
                    "type": "integer",
                    "minimum": 0
                  },
                  "sha256": {
                    "description": "SHA-256 of the tensor's raw bytes (only with --checksums).",
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$"
                  }
                },
                "additionalProperties": false
              }
            }
          },
          "additionalProperties": false,
          "$defs": {
            "dtype": {
              "description": "A safetensors dtype name.",
              "enum": ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"]
            },
            "architecture": {
              "description": "A RoBERTa architecture, when the value is an object (shared with import-output).",
              "required": ["model_type", "layers", "hidden_size", "attention_heads", "attention_heads_source", "intermediate_size", "vocab_size", "max_position_embeddings", "type_vocab_size", "pooler", "head"],
              "properties": {
                "model_type": {
                  "description": "Always roberta.",
                  "const": "roberta"
                },
                "layers": {
                  "description": "Encoder layers (num_hidden_layers).",
                  "type": "integer",
                  "minimum": 0
                },
                "hidden_size": {
                  "description": "Hidden size.",
                  "type": "integer",
                  "minimum": 1
                },
                "attention_heads": {
                  "description": "Attention heads (num_attention_heads).",
                  "type": "integer",
                  "minimum": 1
                },
                "attention_heads_source": {
                  "description": "Where the number of heads came from (the shapes cannot say).",
                  "enum": ["config.json", "checkpoint args", "inferred as hidden/64"]
                },
                "intermediate_size": {
                  "description": "Feed-forward size.",
                  "type": "integer",
                  "minimum": 1
                },
                "vocab_size": {
                  "description": "Rows of the word embeddings.",
                  "type": "integer",
                  "minimum": 1
                },
                "max_position_embeddings": {
                  "description": "Rows of the position embeddings (RoBERTa: usable length + 2).",
                  "type": "integer",
                  "minimum": 1
                },
                "type_vocab_size": {
                  "description": "Rows of the token type embeddings.",
                  "type": "integer",
                  "minimum": 1
                },
                "pooler": {
                  "description": "Whether the checkpoint has pooler weights.",
                  "type": "boolean"
                },
                "head": {
                  "description": "The task head the checkpoint carries.",
                  "enum": ["none", "masked-lm", "sequence-classification"]
                },
                "num_labels": {
                  "description": "Outputs of the sequence-classification head (only with that head).",
                  "type": "integer",
                  "minimum": 1
                }
              },
              "additionalProperties": false,
              "if": {
                "properties": { "head": { "description": "With a classification head...", "const": "sequence-classification" } }
              },
              "then": { "required": ["num_labels"] },
              "else": { "properties": { "num_labels": false } }
            }
          }
        }

        """##

    // MARK: - schemas/import-output.schema.json

    static let importOutput = ##"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "urn:lsrconv:schema:import-output:1",
          "title": "lsrconv import --json",
          "description": "What `lsrconv import SOURCE --json` prints once the Hugging Face model directory is written.",
          "type": "object",
          "required": ["source", "format", "source_files", "input_dtypes", "output_dtypes", "tensors", "parameters", "architecture", "config_source", "renamed", "dropped", "unknown", "synthesized", "output", "output_files", "bytes_written", "seconds", "mb_per_second"],
          "properties": {
            "source": {
              "description": "SOURCE as given on the command line.",
              "type": "string"
            },
            "format": {
              "description": "The source's format, detected from the bytes.",
              "enum": ["safetensors", "safetensors (sharded)", "pytorch zip", "pytorch legacy", "pytorch zip (sharded)"]
            },
            "source_files": {
              "description": "The files read.",
              "type": "array",
              "minItems": 1,
              "items": { "description": "A file path.", "type": "string" }
            },
            "input_dtypes": {
              "description": "Number of source tensors of each dtype.",
              "$ref": "#/$defs/dtypeCounts"
            },
            "output_dtypes": {
              "description": "Number of written tensors of each dtype.",
              "$ref": "#/$defs/dtypeCounts"
            },
            "tensors": {
              "description": "Number of tensors written.",
              "type": "integer",
              "minimum": 0
            },
            "parameters": {
              "description": "Elements over all tensors written.",
              "type": "integer",
              "minimum": 0
            },
            "architecture": {
              "description": "The RoBERTa architecture written to config.json.",
              "type": "object",
              "$ref": "#/$defs/architecture"
            },
            "config_source": {
              "description": "Where the config came from: a config.json path, the fairseq checkpoint's own arguments, or the tensor shapes.",
              "type": "string"
            },
            "renamed": {
              "description": "Number of source tensors whose name changed.",
              "type": "integer",
              "minimum": 0
            },
            "dropped": {
              "description": "Source tensors left out (buffers, fairseq's LM head and version, other heads).",
              "type": "array",
              "items": { "description": "A source tensor name.", "type": "string" }
            },
            "unknown": {
              "description": "Tensors that are no part of a RoBERTa, kept verbatim.",
              "type": "array",
              "items": { "description": "A tensor name.", "type": "string" }
            },
            "synthesized": {
              "description": "Tensors the source lacks, added as transformers' conversion adds them.",
              "type": "array",
              "items": { "description": "A tensor name.", "type": "string" }
            },
            "output": {
              "description": "The model directory written.",
              "type": "string"
            },
            "output_files": {
              "description": "The files written in it (names).",
              "type": "array",
              "minItems": 1,
              "items": { "description": "A file name.", "type": "string" }
            },
            "bytes_written": {
              "description": "Bytes written over all files.",
              "type": "integer",
              "minimum": 0
            },
            "seconds": {
              "description": "Wall-clock time of the import (ms resolution).",
              "type": "number",
              "minimum": 0
            },
            "mb_per_second": {
              "description": "Bytes read per second, in MB (10⁶).",
              "type": "number",
              "minimum": 0
            }
          },
          "additionalProperties": false,
          "$defs": {
            "dtypeCounts": {
              "description": "Number of tensors of each dtype (safetensors dtype names).",
              "type": "object",
              "propertyNames": {
                "enum": ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"]
              },
              "additionalProperties": { "type": "integer", "minimum": 1 }
            },
            "architecture": {
              "description": "A RoBERTa architecture, when the value is an object (shared with inspect-output).",
              "required": ["model_type", "layers", "hidden_size", "attention_heads", "attention_heads_source", "intermediate_size", "vocab_size", "max_position_embeddings", "type_vocab_size", "pooler", "head"],
              "properties": {
                "model_type": {
                  "description": "Always roberta.",
                  "const": "roberta"
                },
                "layers": {
                  "description": "Encoder layers (num_hidden_layers).",
                  "type": "integer",
                  "minimum": 0
                },
                "hidden_size": {
                  "description": "Hidden size.",
                  "type": "integer",
                  "minimum": 1
                },
                "attention_heads": {
                  "description": "Attention heads (num_attention_heads).",
                  "type": "integer",
                  "minimum": 1
                },
                "attention_heads_source": {
                  "description": "Where the number of heads came from (the shapes cannot say).",
                  "enum": ["config.json", "checkpoint args", "inferred as hidden/64"]
                },
                "intermediate_size": {
                  "description": "Feed-forward size.",
                  "type": "integer",
                  "minimum": 1
                },
                "vocab_size": {
                  "description": "Rows of the word embeddings.",
                  "type": "integer",
                  "minimum": 1
                },
                "max_position_embeddings": {
                  "description": "Rows of the position embeddings (RoBERTa: usable length + 2).",
                  "type": "integer",
                  "minimum": 1
                },
                "type_vocab_size": {
                  "description": "Rows of the token type embeddings.",
                  "type": "integer",
                  "minimum": 1
                },
                "pooler": {
                  "description": "Whether the checkpoint has pooler weights.",
                  "type": "boolean"
                },
                "head": {
                  "description": "The task head the checkpoint carries.",
                  "enum": ["none", "masked-lm", "sequence-classification"]
                },
                "num_labels": {
                  "description": "Outputs of the sequence-classification head (only with that head).",
                  "type": "integer",
                  "minimum": 1
                }
              },
              "additionalProperties": false,
              "if": {
                "properties": { "head": { "description": "With a classification head...", "const": "sequence-classification" } }
              },
              "then": { "required": ["num_labels"] },
              "else": { "properties": { "num_labels": false } }
            }
          }
        }

        """##

    // MARK: - schemas/predict-output.schema.json

    static let predictOutput = ##"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "urn:lsrconv:schema:predict-output:1",
          "title": "lsrconv predict --text ... --json",
          "description": "What `lsrconv predict --model DIR --text S [--pair S] --json` prints: the prediction for the one example. (With --data, each line written is a predict-line document.)",
          "type": "object",
          "required": ["predictions"],
          "properties": {
            "predictions": {
              "description": "One prediction per example, in input order.",
              "type": "array",
              "minItems": 1,
              "items": {
                "description": "A classification (label and probabilities) or, for a one-output head, a regression score.",
                "oneOf": [{ "$ref": "#/$defs/classification" }, { "$ref": "#/$defs/regression" }]
              }
            }
          },
          "additionalProperties": false,
          "$defs": {
            "classification": {
              "description": "The prediction of a head with two or more labels.",
              "type": "object",
              "required": ["label", "label_id", "probabilities", "logits"],
              "properties": {
                "label": {
                  "description": "Name of the most probable label (config.json id2label, else LABEL_<id>).",
                  "type": "string"
                },
                "label_id": {
                  "description": "Index of the most probable label (the first maximum, as torch.argmax).",
                  "type": "integer",
                  "minimum": 0
                },
                "probabilities": {
                  "description": "softmax(logits), one per label.",
                  "type": "array",
                  "minItems": 2,
                  "items": { "type": "number", "minimum": 0, "maximum": 1 }
                },
                "logits": {
                  "description": "The head's outputs, one per label.",
                  "type": "array",
                  "minItems": 2,
                  "items": { "type": "number" }
                }
              },
              "additionalProperties": false
            },
            "regression": {
              "description": "The prediction of a one-output (regression) head.",
              "type": "object",
              "required": ["score", "logits"],
              "properties": {
                "score": {
                  "description": "The head's single output.",
                  "type": "number"
                },
                "logits": {
                  "description": "[score].",
                  "type": "array",
                  "minItems": 1,
                  "maxItems": 1,
                  "items": { "type": "number" }
                }
              },
              "additionalProperties": false
            }
          }
        }

        """##

    // MARK: - schemas/predict-line.schema.json

    static let predictLine = ##"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "urn:lsrconv:schema:predict-line:1",
          "title": "lsrconv predict --data: one output line",
          "description": "One line of the JSON Lines that `lsrconv predict --model DIR --data FILE [--out FILE]` writes: the prediction for one input row, keys sorted.",
          "type": "object",
          "required": ["line", "logits"],
          "properties": {
            "label": {
              "description": "Name of the most probable label (config.json id2label, else LABEL_<id>); classification heads only.",
              "type": "string"
            },
            "label_id": {
              "description": "Index of the most probable label (the first maximum, as torch.argmax); classification heads only.",
              "type": "integer",
              "minimum": 0
            },
            "line": {
              "description": "The input row's line number in FILE (1-based; a CSV/TSV header counts as a line).",
              "type": "integer",
              "minimum": 1
            },
            "logits": {
              "description": "The head's outputs, one per label.",
              "type": "array",
              "minItems": 1,
              "items": { "type": "number" }
            },
            "probabilities": {
              "description": "softmax(logits), one per label; classification heads only.",
              "type": "array",
              "minItems": 2,
              "items": { "type": "number", "minimum": 0, "maximum": 1 }
            },
            "score": {
              "description": "The single output of a regression head; regression heads only.",
              "type": "number"
            }
          },
          "additionalProperties": false,
          "oneOf": [
            {
              "description": "A classification.",
              "required": ["label", "label_id", "probabilities"],
              "properties": { "score": false, "logits": { "description": "One per label, at least two.", "minItems": 2 } }
            },
            {
              "description": "A regression.",
              "required": ["score"],
              "properties": { "label": false, "label_id": false, "probabilities": false, "logits": { "description": "[score].", "maxItems": 1 } }
            }
          ]
        }

        """##

    // MARK: - schemas/tokenize-output.schema.json

    static let tokenizeOutput = ##"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "urn:lsrconv:schema:tokenize-output:1",
          "title": "lsrconv tokenize --json",
          "description": "What `lsrconv tokenize --tokenizer DIR --text S [--pair S] --json` prints: the encoding, as Hugging Face tokenizers gives it. The three arrays have the same length.",
          "type": "object",
          "required": ["ids", "tokens", "attention_mask"],
          "properties": {
            "ids": {
              "description": "Token ids, special tokens included.",
              "type": "array",
              "items": { "type": "integer", "minimum": 0 }
            },
            "tokens": {
              "description": "The tokens, in their byte-level spelling (Ġ is a space, Ċ a newline).",
              "type": "array",
              "items": { "type": "string" }
            },
            "attention_mask": {
              "description": "1 for every token (no padding in a single encoding).",
              "type": "array",
              "items": { "enum": [0, 1] }
            }
          },
          "additionalProperties": false
        }

        """##

    // MARK: - schemas/validate-output.schema.json

    static let validateOutput = ##"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "urn:lsrconv:schema:validate-output:1",
          "title": "lsrconv validate --json",
          "description": "What `lsrconv validate PATH --json` prints: whether PATH (an adapter directory, or a JSON file checked against a schema) is valid, every problem found, and warnings that do not make it invalid.",
          "type": "object",
          "required": ["path", "valid", "problems", "warnings"],
          "properties": {
            "path": {
              "description": "PATH as given on the command line.",
              "type": "string"
            },
            "valid": {
              "description": "true when there is no problem (warnings do not count); the exit status is then 0, else 1.",
              "type": "boolean"
            },
            "problems": {
              "description": "Every problem found, in the order of the checks: schema, then tensors, then the base model (--model).",
              "type": "array",
              "items": {
                "description": "One problem.",
                "type": "object",
                "required": ["location", "message"],
                "properties": {
                  "location": {
                    "description": "A JSON Pointer into the JSON document (\"\" is the whole document), a tensor name, or a file name.",
                    "type": "string"
                  },
                  "message": {
                    "description": "One line saying what is wrong.",
                    "type": "string",
                    "minLength": 1
                  },
                  "keyword_location": {
                    "description": "For a schema violation: the JSON Pointer of the failing keyword in the schema, through any $ref.",
                    "type": "string"
                  }
                },
                "additionalProperties": false
              }
            },
            "warnings": {
              "description": "Findings that do not make PATH invalid, e.g. base model weights whose SHA-256 differs from the one the adapter records.",
              "type": "array",
              "items": {
                "description": "One warning.",
                "type": "object",
                "required": ["location", "message"],
                "properties": {
                  "location": {
                    "description": "A JSON Pointer into the JSON document, a tensor name, or a file name.",
                    "type": "string"
                  },
                  "message": {
                    "description": "One line.",
                    "type": "string",
                    "minLength": 1
                  }
                },
                "additionalProperties": false
              }
            }
          },
          "additionalProperties": false,
          "if": {
            "properties": { "valid": { "description": "When valid...", "const": true } }
          },
          "then": {
            "properties": { "problems": { "description": "Valid: no problem.", "maxItems": 0 } }
          },
          "else": {
            "properties": { "problems": { "description": "Invalid: at least one problem.", "minItems": 1 } }
          }
        }

        """##
}
