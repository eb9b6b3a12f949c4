"""Errors a user can act on. Each message names the value and the fix."""


class RagError(Exception):
    """Base class: the CLI prints `error: <message>` and exits 1; the UI shows the message."""


class IndexNotFoundError(RagError):
    pass


class IndexBusyError(RagError):
    """Another `rag index` is building the same index folder."""


class IndexMismatchError(RagError):
    """The index on disk was built with other settings than the ones asked for."""


class ModelNotAvailableError(RagError):
    pass


class BadQuestionError(RagError):
    pass


class CorpusError(RagError):
    pass


class ProvisionError(RagError):
    """Provisioning a model from registry packages failed; the message names the package."""


class StoreUnavailableError(RagError):
    """The store the settings name (a Milvus server or Lite file) cannot be reached or opened."""
