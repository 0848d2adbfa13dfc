//! What the runtime serves, and where: Unix sockets only, each with health and reflection.

use std::path::Path;

use angzarr_standalone_integration::{
    SystemConfig, TestSystem, connect, socket_inodes, tcp_sockets, unix_socket_inodes,
};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listens_on_tcp() {
    let system = TestSystem::start(&SystemConfig::new(&["alpha", "beta"])).await;
    let runtime = system.runtime();
    let ours = socket_inodes("self");

    // Control: the inspection sees the coordinators' Unix sockets as ours.
    for component in runtime.components() {
        let socket = component
            .coordinator_socket
            .as_deref()
            .expect("a coordinator");
        let inodes = unix_socket_inodes(socket);
        assert!(
            inodes.iter().any(|inode| ours.contains(inode)),
            "{} is one of our sockets",
            socket.display()
        );
    }

    let mut processes = vec![("runtime".to_string(), ours)];
    for name in runtime.supervisor().names() {
        let pid = runtime
            .supervisor()
            .pid(&name)
            .expect("a running component");
        processes.push((name, socket_inodes(&pid.to_string())));
    }
    let tcp = tcp_sockets();
    for (process, inodes) in &processes {
        let owned: Vec<_> = tcp.iter().filter(|s| inodes.contains(&s.inode)).collect();
        assert!(owned.is_empty(), "{process} owns TCP sockets: {owned:?}");
    }
    system.stop().await;
}

/// Asserts that the gRPC server at `socket` reports SERVING for `""` and for `service`, and
/// lists `service` through reflection.
async fn assert_serves(socket: &Path, service: &str) {
    let channel = connect(socket).await;
    let mut health = HealthClient::new(channel.clone());
    for name in ["", service] {
        let status = health
            .check(HealthCheckRequest {
                service: name.to_string(),
            })
            .await
            .unwrap_or_else(|err| panic!("health of {name:?} on {}: {err}", socket.display()))
            .into_inner()
            .status;
        assert_eq!(
            status,
            ServingStatus::Serving as i32,
            "{name:?} on {}",
            socket.display()
        );
    }

    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("a reflection answer")
        .and_then(|r| r.message_response);
    let Some(MessageResponse::ListServicesResponse(list)) = response else {
        panic!("unexpected reflection answer {response:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&service),
        "{} lists {names:?}",
        socket.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_answers_health_and_reflection() {
    let system = TestSystem::start(&SystemConfig::new(&["alpha", "beta"])).await;
    let components = system.runtime().components();
    assert_eq!(components.len(), 2);
    for component in components {
        let coordinator = component
            .coordinator_socket
            .as_deref()
            .expect("a coordinator");
        assert_eq!(
            coordinator,
            system
                .workspace()
                .socket_dir()
                .join(format!("{}.sock", component.name))
        );
        assert_serves(coordinator, "angzarr.BusinessCoordinator").await;
        assert_serves(&component.logic_socket, "angzarr.BusinessLogic").await;
    }
    system.stop().await;
}
