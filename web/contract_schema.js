// vaekit.json's JSON Schema, generated from vaekit.format.Contract by
// `python -m vaekit.format.schema web/contract_schema.js`: do not edit by hand.
export const SCHEMA = {
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "vaekit-onnx/1",
  "title": "vaekit.json: the export contract",
  "type": "object",
  "properties": {
    "background": {"anyOf": [{"type": "string", "enum": ["dark", "light"]}, {"type": "null"}]},
    "batch_axis": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "channels": {"type": "integer", "minimum": 1},
    "checkpoint": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "checkpoint_sha256": {"type": "string"},
    "class_names": {"type": "array", "items": {"type": "string"}},
    "dataset": {"type": "string"},
    "decoder": {"anyOf": [{"$ref": "#/$defs/GraphRecord"}, {"type": "null"}]},
    "decoder_inputs": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
    "encoder": {"anyOf": [{"$ref": "#/$defs/GraphRecord"}, {"type": "null"}]},
    "encoder_inputs": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
    "examples": {"anyOf": [{"$ref": "#/$defs/ExamplesRecord"}, {"type": "null"}]},
    "exported_with": {"anyOf": [{"type": "object", "additionalProperties": {"type": "string"}}, {"type": "null"}]},
    "fast_decoder": {"anyOf": [{"$ref": "#/$defs/FastDecoderRecord"}, {"type": "null"}]},
    "fitted_priors": {"anyOf": [{"type": "object", "additionalProperties": {"type": "string"}}, {"type": "null"}]},
    "format": {"type": "string", "const": "vaekit-onnx"},
    "format_version": {"type": "integer", "const": 1},
    "framing": {"anyOf": [{"$ref": "#/$defs/Framing"}, {"type": "null"}]},
    "height": {"type": "integer", "minimum": 1},
    "image_range": {"anyOf": [{"type": "array", "items": {"type": "number"}}, {"type": "null"}]},
    "latent_dim": {"type": "integer", "minimum": 1},
    "likelihood": {"type": "string"},
    "model_config": {"anyOf": [{"type": "object", "additionalProperties": {}}, {"type": "null"}]},
    "num_classes": {"type": "integer", "minimum": 0},
    "opset": {"type": "integer", "minimum": 1},
    "parity": {},
    "plottable": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
    "prior": {"anyOf": [{"$ref": "#/$defs/PriorRecord"}, {"type": "null"}]},
    "requires": {},
    "vaekit_version": {"type": "string"},
    "variants": {"anyOf": [{"type": "object", "additionalProperties": {"$ref": "#/$defs/VariantRecord"}, "propertyNames": {"enum": ["fp16", "int8"]}}, {"type": "null"}]},
    "width": {"type": "integer", "minimum": 1}
  },
  "required": ["channels", "checkpoint_sha256", "dataset", "format", "format_version", "height", "latent_dim", "likelihood", "opset", "vaekit_version", "width"],
  "additionalProperties": false,
  "$defs": {
    "ExamplesRecord": {"type": "object", "properties": {"bytes": {"type": "integer"}, "count": {"type": "integer"}, "file": {"type": "string"}, "split": {"type": "string"}}, "required": ["bytes", "count", "file", "split"], "additionalProperties": false},
    "FastDecoderRecord": {"type": "object", "properties": {"bytes": {"type": "integer"}, "cost": {}, "distill": {}, "file": {"type": "string"}, "inputs": {"type": "object", "additionalProperties": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}}, "ir_version": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "latency": {}, "not_written": {"anyOf": [{"type": "object", "additionalProperties": {"type": "string"}}, {"type": "null"}]}, "opset": {"type": "integer"}, "outputs": {"type": "object", "additionalProperties": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}}, "parity": {}, "quality": {}, "sha256": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "student": {}, "student_sha256": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "trained_steps": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "variants": {"type": "object", "additionalProperties": {"$ref": "#/$defs/FastVariantRecord"}}}, "required": ["bytes", "file", "inputs", "opset", "outputs"], "additionalProperties": false},
    "FastVariantRecord": {"type": "object", "properties": {"bytes": {"type": "integer"}, "file": {"type": "string"}, "inputs": {"type": "object", "additionalProperties": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}}, "ir_version": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "latency": {}, "opset": {"type": "integer"}, "outputs": {"type": "object", "additionalProperties": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}}, "quality": {}, "sha256": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, "required": ["bytes", "file", "inputs", "opset", "outputs"], "additionalProperties": false},
    "Framing": {"type": "object", "properties": {"box": {"type": "number"}, "centre": {"type": "string", "enum": ["mass", "box"]}, "crop_fraction": {"type": "number"}, "method": {"type": "string", "enum": ["centre-crop", "ink-box"]}}, "required": [], "additionalProperties": false},
    "GraphRecord": {"type": "object", "properties": {"bytes": {"type": "integer"}, "file": {"type": "string"}, "inputs": {"type": "object", "additionalProperties": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}}, "ir_version": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "opset": {"type": "integer"}, "outputs": {"type": "object", "additionalProperties": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}}, "sha256": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, "required": ["bytes", "file", "inputs", "opset", "outputs"], "additionalProperties": false},
    "KernelPath": {"type": "object", "properties": {"cpus": {"type": "string"}, "decoder_psnr_db_vs_fp32": {"anyOf": [{"type": "number"}, {"type": "null"}]}, "measured": {"type": "string"}}, "required": ["cpus", "measured"], "additionalProperties": false},
    "PriorRecord": {"type": "object", "properties": {"bytes": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "components": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "covariance": {"anyOf": [{"type": "string", "enum": ["full", "diag"]}, {"type": "null"}]}, "file": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "fitted_on": {"type": "object", "additionalProperties": {}}, "latent_dim": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "name": {"type": "string"}, "sha256": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "source": {"anyOf": [{"type": "string", "enum": ["fitted", "learned"]}, {"type": "null"}]}}, "required": [], "additionalProperties": false},
    "VariantRecord": {"type": "object", "properties": {"decoder": {"$ref": "#/$defs/GraphRecord"}, "decoder_psnr_db_vs_fp32": {"anyOf": [{"type": "number"}, {"type": "null"}]}, "encoder": {"$ref": "#/$defs/GraphRecord"}, "fp16_computed": {}, "int16_pair_sum_max": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "kernel_paths": {"anyOf": [{"type": "object", "additionalProperties": {"$ref": "#/$defs/KernelPath"}}, {"type": "null"}]}, "method": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "parity_vs_torch_fp32": {}, "psnr_latents": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "runs_on_cpu": {"anyOf": [{"type": "boolean"}, {"type": "null"}]}}, "required": ["decoder", "encoder"], "additionalProperties": false}
  }
};
// the largest |z| any client feeds a decoder (vaekit.format.MAX_ABS_LATENT)
export const MAX_ABS_LATENT = 10000;
