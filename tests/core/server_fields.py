"""The server's request and response fields, as data: what the typed classes must cover.

``SERVER_FIELDS`` maps an ollama-core class to (source, wire names of its fields). The
names were read from the source named (the Go structs in parentheses in ``GO_STRUCTS``);
``test_server_fields.py`` checks that each is a declared, typed attribute of the class,
and, when the server source is mirrored on the machine, that the list is still the Go
struct's. ``EXCLUDED`` lists the fields left out on purpose, with the reason.
"""

from __future__ import annotations

GO = "ollama/ollama api/types.go @fb30760"
PY = "ollama-python 0.6.3 _types.py"

_METRICS = ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
            "eval_count", "eval_duration")

SERVER_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "GenerateRequest": (GO, (
        "model", "prompt", "suffix", "system", "template", "context", "stream", "raw",
        "format", "keep_alive", "images", "options", "think", "truncate", "shift",
        "_debug_render_only", "logprobs", "top_logprobs")),
    "ChatRequest": (GO, (
        "model", "messages", "stream", "format", "keep_alive", "tools", "options", "think",
        "truncate", "shift", "_debug_render_only", "logprobs", "top_logprobs")),
    "ChatMessage": (GO, (
        "role", "content", "thinking", "images", "tool_calls", "tool_name", "tool_call_id")),
    "ToolCall": (GO, ("id", "function")),
    "ToolCallFunction": (GO, ("index", "name", "arguments")),
    "Tool": (GO, ("type", "items", "function")),
    "ToolFunction": (GO, ("name", "description", "parameters")),
    "TokenLogprob": (GO, ("token", "logprob", "bytes")),
    "Logprob": (GO, ("token", "logprob", "bytes", "top_logprobs")),
    "ChatResponse": (GO, (
        "model", "remote_model", "remote_host", "created_at", "message", "done",
        "done_reason", "_debug_info", "logprobs", *_METRICS)),
    "DebugInfo": (GO, ("rendered_template", "image_count")),
    "Options": (GO, (
        "num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread",
        "draft_num_predict", "num_keep", "seed", "num_predict", "top_k", "top_p", "min_p",
        "typical_p", "repeat_last_n", "temperature", "repeat_penalty", "presence_penalty",
        "frequency_penalty", "stop")),
    "EmbedRequest": (GO, ("model", "input", "keep_alive", "truncate", "dimensions",
                          "options")),
    "EmbedResponse": (GO, ("model", "embeddings", "total_duration", "load_duration",
                           "prompt_eval_count")),
    "EmbeddingsRequest": (GO, ("model", "prompt", "keep_alive", "options")),
    "EmbeddingsResponse": (GO, ("embedding",)),
    "CreateRequest": (GO, (
        "model", "stream", "quantize", "draft_quantize", "from", "remote_host", "files",
        "draft_files", "adapters", "template", "license", "system", "parameters", "messages",
        "renderer", "parser", "requires", "info")),
    "DeleteRequest": (GO, ("model",)),
    "ShowRequest": (GO, ("model", "system", "template", "verbose", "options")),
    "ModelInfo": (GO, (
        "license", "modelfile", "parameters", "template", "system", "renderer", "parser",
        "details", "messages", "remote_model", "remote_host", "model_info", "projector_info",
        "tensors", "capabilities", "modified_at", "requires")),
    "CopyRequest": (GO, ("source", "destination")),
    "PullRequest": (GO, ("model", "insecure", "stream")),
    "ProgressResponse": (GO, ("status", "digest", "total", "completed")),
    "PushRequest": (GO, ("model", "insecure", "stream")),
    "TagsResponse": (GO, ("models",)),
    "RunningModelsResponse": (GO, ("models",)),
    "ModelEntry": (GO, (
        "name", "model", "remote_model", "remote_host", "modified_at", "size", "digest",
        "details", "capabilities", "expires_at", "size_vram", "context_length")),
    "ModelRecommendationsResponse": (GO, ("recommendations",)),
    "ModelRecommendation": (GO, ("model", "description", "context_length",
                                 "max_output_tokens", "vram_bytes", "required_plan")),
    "CloudStatus": (GO, ("disabled", "source")),
    "StatusResponse": (GO, ("cloud",)),
    "WebSearchRequest": (GO, ("query", "max_results")),
    "WebSearchResult": (GO, ("title", "url", "content")),
    "WebSearchResponse": (GO, ("results",)),
    "WebFetchRequest": (GO, ("url",)),
    "WebFetchResponse": (GO, ("title", "content", "links")),
    "GenerateResponse": (GO, (
        "model", "remote_model", "remote_host", "created_at", "response", "thinking", "done",
        "done_reason", "context", *_METRICS, "tool_calls", "_debug_info", "logprobs")),
    "ModelDetails": (GO, ("parent_model", "format", "family", "families", "parameter_size",
                          "quantization_level", "context_length", "embedding_length")),
    "UserResponse": (GO, ("id", "email", "name", "bio", "avatarurl", "firstname", "lastname",
                          "plan")),
    "Tensor": (GO, ("name", "type", "shape")),
    # POST /v1/systemone is newer than the server source read: ollama-python's models.
    "SystemOneRequest": (PY, ("model", "state", "questions", "keep_alive")),
    "SystemOneChoiceQuestion": (PY, ("type", "instructions", "criteria")),
    "SystemOneNoulQuestion": (PY, ("type", "instructions", "criteria")),
    "SystemOneScoreQuestion": (PY, ("type", "instructions", "criteria")),
    "SystemOneNoulAnswer": (PY, ("type", "noul")),
    "SystemOneChoiceAnswer": (PY, ("type", "choice", "probabilities", "confidence")),
    "SystemOneScoreAnswer": (PY, ("type", "score", "legend", "probabilities", "confidence")),
    "SystemOneUsage": (PY, ("input_tokens", "output_tokens")),
    "SystemOneResponse": (PY, ("model", "answers", "usage")),
}

#: The Go struct(s) each class mirrors (embedded structs are followed).
GO_STRUCTS: dict[str, tuple[str, ...]] = {
    "ChatMessage": ("Message",),
    "EmbeddingsRequest": ("EmbeddingRequest",),
    "EmbeddingsResponse": ("EmbeddingResponse",),
    "ModelInfo": ("ShowResponse",),
    "TagsResponse": ("ListResponse",),
    "RunningModelsResponse": ("ProcessResponse",),
    "ModelEntry": ("ListModelResponse", "ProcessModelResponse"),
}

#: (class, wire name) -> why it has no typed attribute.
EXCLUDED: dict[tuple[str, str], str] = {
    ("CreateRequest", "name"): "deprecated: use model",
    ("CreateRequest", "quantization"): "deprecated: use quantize",
    ("DeleteRequest", "name"): "deprecated: use model",
    ("ShowRequest", "name"): "deprecated: use model",
    ("PullRequest", "name"): "deprecated: use model",
    ("PullRequest", "username"): "deprecated: ignored by the server",
    ("PullRequest", "password"): "deprecated: ignored by the server",
    ("PushRequest", "name"): "deprecated: use model",
    ("PushRequest", "username"): "deprecated: ignored by the server",
    ("PushRequest", "password"): "deprecated: ignored by the server",
}

#: Go request/response structs of api/types.go the client does not speak, and why.
NOT_SPOKEN: dict[str, str] = {
    "TokenResponse": "no client method returns it (the server's internal token route)",
    "StatusError": "an error body, read by the error mapping (its `error`)",
    "AuthorizationError": "an error body, read by the error mapping (`error`, `signin_url`)",
    "ToolFunctionParameters": "kept as the JSON Schema object it is (ToolFunction.parameters)",
    "ToolProperty": "part of a JSON Schema object (ToolFunction.parameters)",
    "Runner": "embedded in Options",
    "Metrics": "embedded in the chat and generate responses",
}
