//! [`RobotServer`]: the MCP server handler. Tools: `execute` (a code action
//! in the one persistent session), `stop_robot`, `reset`, `robot_state`,
//! `picture`. Resources: the API text, the robot's state, the map picture.
//! The robot API text is in the server's instructions and in `execute`'s
//! description, so a model knows the skills without another call.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{json, Map, Value as Json};
use tokio::sync::mpsc;

use super::session::{McpSession, RobotError};
use codeact_executor::observation::trim_middle;
use codeact_executor::{Observation, Status, MAX_ACTION_SECONDS};

/// URIs of the resources.
const API_URI: &str = "codeact://api";
const STATE_URI: &str = "codeact://state";
const MAP_URI: &str = "codeact://map.png";
/// How far around the robot the map resource shows, metres.
const MAP_RADIUS: f64 = 4.0;

/// The MCP face of one robot.
#[derive(Clone)]
pub struct RobotServer {
    robot: Arc<McpSession>,
    /// Characters of an observation's text at most; the middle of a longer one is cut.
    max_output: usize,
    /// A real robot: `execute` is marked destructive, so clients ask first.
    physical: bool,
}

impl RobotServer {
    /// A server for `robot`.
    pub fn new(robot: Arc<McpSession>, max_output: usize, physical: bool) -> Self {
        RobotServer {
            robot,
            max_output,
            physical,
        }
    }

    fn api_text(&self) -> String {
        self.robot.api_text().to_owned()
    }

    /// The tools, with their schemas and descriptions.
    pub fn tools(&self) -> Vec<Tool> {
        let execute = Tool::new(
            "execute",
            format!(
                "Run Python code on the robot, in one persistent session: variables, functions and imports stay between calls. The robot's skills are plain functions in the namespace. The result is what the code printed, the value of its last expression, any exception with its traceback, the robot's events and its state. One action runs at a time. Time limit: `timeout` seconds (the server's default when left out).\n\n{}",
                self.api_text()
            ),
            schema(json!({
                "type": "object",
                "properties": {
                    "code": {"type": "string", "description": "Python source to run, e.g. \"p = get_pose()\\nprint(p)\""},
                    "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_ACTION_SECONDS, "description": "Time limit in seconds"}
                },
                "required": ["code"]
            })),
        )
        .annotate(
            ToolAnnotations::with_title("Run code on the robot")
                .read_only(false)
                .destructive(self.physical)
                .idempotent(false)
                .open_world(self.physical),
        );
        let no_args = || schema(json!({"type": "object", "properties": {}}));
        vec![
            execute,
            Tool::new(
                "stop_robot",
                "Stop the robot now: interrupts the running action, if any, and brings the robot to rest. Always answered at once, even while execute runs.",
                no_args(),
            )
            .annotate(ToolAnnotations::with_title("Stop the robot").read_only(false).destructive(false).idempotent(true)),
            Tool::new(
                "reset",
                "Start a fresh Python session: every variable is gone. The robot stays where it is.",
                no_args(),
            )
            .annotate(ToolAnnotations::with_title("Reset the session").read_only(false).destructive(false).idempotent(true)),
            Tool::new(
                "robot_state",
                "The robot's state now in one line: pose, battery, what it holds, its clock.",
                no_args(),
            )
            .annotate(ToolAnnotations::with_title("Robot state").read_only(true)),
            Tool::new(
                "picture",
                "A PNG picture of the robot's map around it: walls, obstacles, zones, objects it knows, the robot and its path, with names and a scale bar.",
                schema(json!({
                    "type": "object",
                    "properties": {
                        "radius": {"type": "number", "minimum": 0.5, "maximum": 50, "description": "Metres around the robot (default 4)"}
                    }
                })),
            )
            .annotate(ToolAnnotations::with_title("Map picture").read_only(true)),
        ]
    }

    /// Runs `execute`: output goes out as progress while the code runs, a
    /// cancelled request interrupts the action.
    async fn execute(
        &self,
        args: &Map<String, Json>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let code = match args.get("code") {
            Some(Json::String(code)) => code.clone(),
            _ => {
                return Err(McpError::invalid_params(
                    "execute needs `code`, a string of Python source",
                    None,
                ))
            }
        };
        let timeout = match args.get("timeout") {
            None | Some(Json::Null) => None,
            Some(t) => match t.as_f64().filter(|t| codeact_executor::valid_time_limit(*t)) {
                Some(t) => Some(Duration::from_secs_f64(t)),
                None => {
                    return Err(McpError::invalid_params(
                        format!("timeout must be a number of seconds between 0 and {MAX_ACTION_SECONDS}, got {t}"),
                        None,
                    ))
                }
            },
        };
        let (output, mut printed) = mpsc::unbounded_channel();
        let progress = context.meta.get_progress_token();
        let peer = context.peer.clone();
        let forward = tokio::spawn(async move {
            let mut step = 0.0;
            while let Some((_stream, text)) = printed.recv().await {
                if let Some(token) = &progress {
                    step += 1.0;
                    let note =
                        ProgressNotificationParam::new(token.clone(), step).with_message(text);
                    let _ = peer.notify_progress(note).await;
                }
            }
        });
        let running = self.robot.execute(code, timeout, output);
        tokio::pin!(running);
        let observation = tokio::select! {
            done = &mut running => done,
            () = context.ct.cancelled() => {
                // Like Ctrl-C: the action stops, its observation still comes.
                self.robot.interrupt();
                running.await
            }
        };
        let _ = forward.await;
        observation.map_or_else(robot_failure, |obs| Ok(self.observation_result(&obs)))
    }

    /// An observation as a tool result: its text (cut in the middle to the
    /// output limit) and the whole of it as structured content.
    fn observation_result(&self, obs: &Observation) -> CallToolResult {
        let text = trim_middle(&obs.render(), self.max_output);
        let mut content = vec![ContentBlock::text(text)];
        // Pictures the code attached with show(), for clients that show images.
        for picture in &obs.images {
            let data = base64::engine::general_purpose::STANDARD.encode(&picture.data);
            content.push(ContentBlock::image(data, picture.mime.mime()));
        }
        let mut result = CallToolResult::success(content);
        result.structured_content = serde_json::to_value(obs).ok();
        result.is_error = Some(obs.status != Status::Ok);
        result
    }

    fn state(&self) -> Json {
        json!({"busy": self.robot.is_busy(), "state": self.robot.state_line()})
    }

    fn picture_png(&self, radius: f64) -> Result<String, McpError> {
        if !(0.5..=50.0).contains(&radius) {
            return Err(McpError::invalid_params(
                format!("radius must be between 0.5 and 50 metres, got {radius}"),
                None,
            ));
        }
        let png = self
            .robot
            .picture(radius)
            .map_err(|e| McpError::invalid_request(e.to_string(), None))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(png))
    }

    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let args = request.arguments.unwrap_or_default();
        match request.name.as_ref() {
            "execute" => self.execute(&args, context).await,
            "stop_robot" => {
                let running = self.robot.stop();
                let text = if running {
                    "stopped: the running action was interrupted and the robot brought to rest"
                } else {
                    "stopped: no action was running; the robot was brought to rest"
                };
                Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
            }
            "reset" => self.robot.reset().await.map_or_else(robot_failure, |()| {
                Ok(CallToolResult::success(vec![ContentBlock::text(
                    "a fresh Python session is ready; every variable is gone",
                )]))
            }),
            "robot_state" => {
                let state = self.state();
                let text = state["state"].as_str().unwrap_or("no robot: this server drives a test skill set").to_owned();
                let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
                result.structured_content = Some(state);
                Ok(result)
            }
            "picture" => {
                let radius = args.get("radius").and_then(Json::as_f64).unwrap_or(MAP_RADIUS);
                let png = self.picture_png(radius)?;
                Ok(CallToolResult::success(vec![ContentBlock::image(png, "image/png")]))
            }
            other => Err(McpError::invalid_params(
                format!("no tool named {other:?}; tools: execute, stop_robot, reset, robot_state, picture"),
                None,
            )),
        }
    }
}

/// What the robot could not do: busy is the tool's answer (the client may
/// try again), anything else a failure of the server.
fn robot_failure(e: RobotError) -> Result<CallToolResult, McpError> {
    match e {
        RobotError::Busy => Ok(CallToolResult::error(vec![ContentBlock::text(
            e.to_string(),
        )])),
        e => Err(McpError::internal_error(e.to_string(), None)),
    }
}

/// A JSON Schema object.
fn schema(value: Json) -> Arc<Map<String, Json>> {
    match value {
        Json::Object(map) => Arc::new(map),
        _ => unreachable!("schemas are objects"),
    }
}

impl ServerHandler for RobotServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(Implementation::new("codeact", env!("CARGO_PKG_VERSION")))
            // The API text goes once per session: in `execute`'s description,
            // which every client shows its model (and codeact://api).
            .with_instructions(
                "This server controls a robot through Python code. Call `execute` with code that calls the robot's skills; variables persist between calls. The skills, their signatures and docstrings, and the world are in `execute`'s description and the codeact://api resource. Call `stop_robot` to stop at once.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.call(request, context).await.map(Into::into)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new(API_URI, "api")
                .with_description(
                    "The robot API: the skills as Python functions, with their docstrings",
                )
                .with_mime_type("text/plain"),
            Resource::new(STATE_URI, "state")
                .with_description("The robot's state now")
                .with_mime_type("application/json"),
            Resource::new(MAP_URI, "map")
                .with_description("A picture of the map around the robot")
                .with_mime_type("image/png"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.as_str();
        let contents = match uri {
            API_URI => ResourceContents::text(self.api_text(), uri).with_mime_type("text/plain"),
            STATE_URI => ResourceContents::text(self.state().to_string(), uri)
                .with_mime_type("application/json"),
            MAP_URI => ResourceContents::blob(self.picture_png(MAP_RADIUS)?, uri)
                .with_mime_type("image/png"),
            other => {
                return Err(McpError::resource_not_found(
                    format!("no resource {other:?}; resources: {API_URI}, {STATE_URI}, {MAP_URI}"),
                    None,
                ))
            }
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}
