//! Calling a ROS 2 service from a skill, through r2r's untyped (JSON)
//! client: one client per service name and type, kept on the ROS thread.
//! Used by `ros_call` and by the services a profile declares as skills.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::task::LocalSpawnExt;
use r2r::{ClientUntyped, QosProfile};
use robot_api::{CancelToken, ErrorKind, SkillError};
use serde_json::Value as Json;

use super::graph::{CallError, Graph, PublishError};
use super::spin::RosThread;

thread_local! {
    // r2r's clients are not `Send`: they live on the ROS thread, which owns the node.
    static CLIENTS: RefCell<HashMap<(String, String), Rc<ClientUntyped>>> = RefCell::default();
}

/// The client of `service` with `type_name`, made on first use (on the ROS thread).
fn client(node: &mut r2r::Node, service: &str, type_name: &str) -> r2r::Result<Rc<ClientUntyped>> {
    CLIENTS.with(|clients| {
        let key = (service.to_owned(), type_name.to_owned());
        if let Some(c) = clients.borrow().get(&key) {
            return Ok(c.clone());
        }
        let c = Rc::new(node.create_client_untyped(service, type_name, QosProfile::default())?);
        clients.borrow_mut().insert(key, c.clone());
        Ok(c)
    })
}

fn unusable(service: &str, e: impl std::fmt::Display) -> SkillError {
    SkillError::new(
        ErrorKind::InvalidArgument,
        format!("cannot call {service}: {e} (is the type right, e.g. 'std_srvs/srv/Trigger', and its package installed and sourced? see docs/ros.md)"),
    )
}

/// Whether this node's r2r was built with the service type `type_name`
/// (its client is made now if so); other installed types are called
/// through their type support loaded at run time ([`crate::graph::Graph::call`]).
pub fn built_in(ros: &RosThread, service: &str, type_name: &str) -> Result<bool, SkillError> {
    let (name, ty) = (service.to_owned(), type_name.to_owned());
    let made = ros
        .run(move |node, _| client(node, &name, &ty).map(|_| ()))
        .map_err(|e| SkillError::new(ErrorKind::Robot, e.to_string()))?;
    match made {
        Ok(()) => Ok(true),
        Err(r2r::Error::InvalidMessageType { .. }) => Ok(false),
        Err(e) => Err(unusable(service, e)),
    }
}

/// Makes the client now (r2r's, or the graph node's for a type the node
/// was not built with), so a type that cannot be used is found at start.
/// Whether the type is built in.
pub fn prepare(
    ros: &RosThread,
    graph: &Graph,
    service: &str,
    type_name: &str,
) -> Result<bool, SkillError> {
    if built_in(ros, service, type_name)? {
        return Ok(true);
    }
    graph
        .prepare_service(service, type_name)
        .map_err(|e| unusable(service, e))?;
    Ok(false)
}

/// Calls `service` of a type loaded at run time through the graph node,
/// with the errors of [`call`].
pub fn call_run_time(
    graph: &Graph,
    service: &str,
    type_name: &str,
    request: &Json,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<Json, SkillError> {
    graph
        .call(service, type_name, request, timeout, cancel)
        .map_err(|e| match e {
            CallError::Cancelled => {
                SkillError::new(ErrorKind::Cancelled, format!("{service}: {e}"))
            }
            CallError::Timeout(_) => {
                SkillError::new(ErrorKind::SkillTimeout, format!("{service} {e}"))
            }
            CallError::Setup(PublishError::Type(crate::dynamic::DynamicError::Value {
                ..
            })) => SkillError::new(
                ErrorKind::InvalidArgument,
                format!("{service}: the request does not fit {type_name}: {e}"),
            ),
            e => unusable(service, e),
        })
}

/// Calls `service` with `request` and returns the response; `SkillTimeout`
/// when no answer comes within `timeout`, `Cancelled` when `cancel` fires.
pub fn call(
    ros: &RosThread,
    service: &str,
    type_name: &str,
    request: Json,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<Json, SkillError> {
    let (name, ty) = (service.to_owned(), type_name.to_owned());
    let (tx, rx) = mpsc::sync_channel(1);
    ros.run(move |node, spawner| -> r2r::Result<()> {
        let client = client(node, &name, &ty)?;
        let available = r2r::Node::is_available(client.as_ref())?;
        let _ = spawner.spawn_local(async move {
            let result = async {
                available.await?;
                client.request(request)?.await
            }
            .await;
            let _ = tx.send(result);
        });
        Ok(())
    })
    .map_err(|e| SkillError::new(ErrorKind::Robot, e.to_string()))?
    .map_err(|e| unusable(service, e))?;
    let deadline = Instant::now() + timeout;
    loop {
        if cancel.is_cancelled() {
            return Err(SkillError::new(
                ErrorKind::Cancelled,
                format!("{service}: the call was cancelled with the action"),
            ));
        }
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(Ok(Ok(response))) => return Ok(response),
            Ok(Ok(Err(e))) => {
                return Err(SkillError::new(
                    ErrorKind::InvalidArgument,
                    format!("{service}: {e}"),
                ))
            }
            Ok(Err(e)) => {
                return Err(SkillError::new(
                    ErrorKind::Robot,
                    format!("{service} failed: {e}"),
                ))
            }
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(_) => {
                return Err(SkillError::new(
                    ErrorKind::SkillTimeout,
                    format!(
                        "{service} did not answer within {:.1} s: is its server running?",
                        timeout.as_secs_f64()
                    ),
                ))
            }
        }
    }
}
