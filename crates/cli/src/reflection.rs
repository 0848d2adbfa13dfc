//! Learning message types from a business-logic process over gRPC server reflection (v1).
//!
//! Reflection answers with the file that defines a symbol; we collect those files plus their
//! transitive imports and build a `prost_reflect::DescriptorPool` from them. Files are found
//! from the services the server lists, and from any full message name we are asked about.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;
use prost_reflect::DescriptorPool;
use prost_types::FileDescriptorProto;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::Error;

/// gRPC's NOT_FOUND, as reflection error responses carry it.
const NOT_FOUND: i32 = tonic::Code::NotFound as i32;

/// A reflection client that accumulates the files it has been sent.
pub(crate) struct Reflection {
    client: ServerReflectionClient<Channel>,
    path: PathBuf,
    files: BTreeMap<String, FileDescriptorProto>,
}

impl Reflection {
    pub(crate) fn new(channel: Channel, path: &Path) -> Self {
        Self {
            client: ServerReflectionClient::new(channel),
            path: path.to_path_buf(),
            files: BTreeMap::new(),
        }
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Reflection {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// One request, one response.
    async fn ask(&mut self, request: MessageRequest) -> Result<MessageResponse, Error> {
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        };
        let call = self
            .client
            .server_reflection_info(tokio_stream::once(request))
            .await;
        let mut responses = match call {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == tonic::Code::Unimplemented => {
                return Err(self.error(
                    "the process does not serve gRPC reflection (grpc.reflection.v1); serve it \
                     with the domain's descriptor set so the CLI can find the message types",
                ));
            }
            Err(status) => return Err(self.error(status.message().to_string())),
        };
        match responses.message().await {
            Ok(Some(response)) => response
                .message_response
                .ok_or_else(|| self.error("empty reflection response")),
            Ok(None) => Err(self.error("the reflection stream closed without an answer")),
            Err(status) => Err(self.error(status.message().to_string())),
        }
    }

    /// Adds the files of every service the server lists.
    pub(crate) async fn load_services(&mut self) -> Result<(), Error> {
        let services = match self
            .ask(MessageRequest::ListServices(String::new()))
            .await?
        {
            MessageResponse::ListServicesResponse(list) => list.service,
            other => {
                return Err(self.error(format!("unexpected answer to ListServices: {other:?}")));
            }
        };
        for service in services {
            self.load_symbol(&service.name).await?;
        }
        Ok(())
    }

    /// Adds the file defining `symbol` (a full name) and its imports; `false` when the server
    /// does not know the symbol.
    pub(crate) async fn load_symbol(&mut self, symbol: &str) -> Result<bool, Error> {
        let found = self
            .add_files(MessageRequest::FileContainingSymbol(symbol.to_string()))
            .await?;
        if found {
            self.load_dependencies().await?;
        }
        Ok(found)
    }

    async fn load_dependencies(&mut self) -> Result<(), Error> {
        loop {
            let missing: Vec<String> = self
                .files
                .values()
                .flat_map(|file| file.dependency.iter())
                .filter(|dep| !self.files.contains_key(*dep))
                .cloned()
                .collect();
            let Some(next) = missing.into_iter().next() else {
                return Ok(());
            };
            if !self
                .add_files(MessageRequest::FileByFilename(next.clone()))
                .await?
            {
                return Err(self.error(format!("the server does not have {next}, an import")));
            }
        }
    }

    /// Sends a file request and stores the files of the answer; `false` on NOT_FOUND.
    async fn add_files(&mut self, request: MessageRequest) -> Result<bool, Error> {
        match self.ask(request).await? {
            MessageResponse::FileDescriptorResponse(response) => {
                for raw in response.file_descriptor_proto {
                    let file = FileDescriptorProto::decode(raw.as_slice())
                        .map_err(|err| self.error(format!("malformed file descriptor: {err}")))?;
                    self.files.insert(file.name().to_string(), file);
                }
                Ok(true)
            }
            MessageResponse::ErrorResponse(err) if err.error_code == NOT_FOUND => Ok(false),
            MessageResponse::ErrorResponse(err) => Err(self.error(err.error_message)),
            other => Err(self.error(format!("unexpected reflection answer: {other:?}"))),
        }
    }

    /// A descriptor pool of every file collected so far.
    pub(crate) fn pool(&self) -> Result<DescriptorPool, Error> {
        let mut pool = DescriptorPool::new();
        pool.add_file_descriptor_protos(self.files.values().cloned())
            .map_err(|err| self.error(format!("inconsistent file descriptors: {err}")))?;
        Ok(pool)
    }
}
