//! ROS 2 interface definitions (`.msg`, `.srv`, `.action`), read from the
//! installed packages (`share/<pkg>/<kind>/<Name>.<kind>` under
//! `AMENT_PREFIX_PATH`), so a profile's declared skills are checked against
//! the real field names and types before anything runs. Plain logic, tested
//! without ROS.

use std::path::PathBuf;

use robot_api::ParamType;

/// Which part of an interface a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A message's fields.
    Message,
    /// A service's request.
    Request,
    /// A service's response.
    Response,
    /// An action's goal.
    Goal,
    /// An action's result.
    Result,
    /// An action's feedback.
    Feedback,
}

impl Part {
    /// The section of the definition file it is (0 = before the first `---`).
    fn section(self) -> usize {
        match self {
            Part::Message | Part::Request | Part::Goal => 0,
            Part::Response | Part::Result => 1,
            Part::Feedback => 2,
        }
    }

    /// In words, for errors.
    pub fn name(self) -> &'static str {
        match self {
            Part::Message => "message",
            Part::Request => "request",
            Part::Response => "response",
            Part::Goal => "goal",
            Part::Result => "result",
            Part::Feedback => "feedback",
        }
    }
}

/// The kind of value a field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `bool`.
    Bool,
    /// Any integer type (`byte`, `char`, `int8` ... `uint64`).
    Int,
    /// `float32`, `float64`.
    Float,
    /// `string`, `wstring`.
    Str,
    /// A nested message, `pkg/msg/Name`.
    Message(String),
}

/// A field's type: its base, and whether it is an array (of any bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldType {
    /// What one element is.
    pub base: Base,
    /// An array or sequence of them.
    pub array: bool,
}

impl FieldType {
    /// The Python annotation a value of this field has in code.
    pub fn annotation(&self) -> String {
        let one = match &self.base {
            Base::Bool => "bool",
            Base::Int => "int",
            Base::Float => "float",
            Base::Str => "str",
            Base::Message(_) => "dict",
        };
        if self.array {
            format!("list[{one}]")
        } else {
            one.into()
        }
    }

    /// Whether a Python value of `param` always fits this field.
    pub fn accepts(&self, param: &ParamType) -> bool {
        match param {
            ParamType::Any => true,
            ParamType::Optional(t) => self.accepts(t),
            ParamType::List(t) => {
                self.array
                    && FieldType {
                        base: self.base.clone(),
                        array: false,
                    }
                    .accepts(t)
            }
            _ if self.array => false,
            ParamType::Float => self.base == Base::Float,
            // An int fits a float field too.
            ParamType::Int => matches!(self.base, Base::Int | Base::Float),
            ParamType::Bool => self.base == Base::Bool,
            ParamType::Str => self.base == Base::Str,
        }
    }
}

/// A field of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: FieldType,
}

/// Why an interface or field could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdlError {
    /// No installed package defines the type.
    #[error("unknown type {name}: no {file} in the installed packages ({searched}); check the spelling (pkg/action/Name, pkg/srv/Name or pkg/msg/Name), and that the package is installed and built into this node (IDL_PACKAGE_FILTER, docs/ros.md)")]
    UnknownType {
        /// The type asked for.
        name: String,
        /// The file looked for.
        file: String,
        /// Where.
        searched: String,
    },
    /// A type name of the wrong form.
    #[error("{0:?} is not a ROS type name: write pkg/action/Name, pkg/srv/Name or pkg/msg/Name")]
    BadName(String),
    /// The field is not there.
    #[error("{type_name} has no {part} field {field:?}; its {part} fields are: {available}")]
    NoField {
        /// The type.
        type_name: String,
        /// Which part.
        part: &'static str,
        /// The field (path) asked for.
        field: String,
        /// What there is at that level.
        available: String,
    },
}

/// The installed interface definitions.
#[derive(Debug, Clone)]
pub struct Idl {
    prefixes: Vec<PathBuf>,
}

impl Idl {
    /// The packages of `AMENT_PREFIX_PATH`.
    pub fn from_env() -> Self {
        let paths = std::env::var("AMENT_PREFIX_PATH").unwrap_or_default();
        Idl::new(std::env::split_paths(&paths).filter(|p| !p.as_os_str().is_empty()))
    }

    /// The packages under these install prefixes.
    pub fn new(prefixes: impl IntoIterator<Item = PathBuf>) -> Self {
        Idl {
            prefixes: prefixes.into_iter().collect(),
        }
    }

    /// The fields of `part` of the type `type_name` (`pkg/kind/Name`).
    pub fn fields(&self, type_name: &str, part: Part) -> Result<Vec<Field>, IdlError> {
        let (package, kind, name) = split_name(type_name)?;
        let file = format!("share/{package}/{kind}/{name}.{kind}");
        let path = self
            .prefixes
            .iter()
            .map(|p| p.join(&file))
            .find(|p| p.is_file())
            .ok_or_else(|| IdlError::UnknownType {
                name: type_name.into(),
                file: file.clone(),
                searched: if self.prefixes.is_empty() {
                    "AMENT_PREFIX_PATH is empty".into()
                } else {
                    self.prefixes
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })?;
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        Ok(parse_section(&text, part.section(), package))
    }

    /// The type of the field at `path` (dots for nested fields: `pose.position.x`).
    pub fn field(&self, type_name: &str, part: Part, path: &str) -> Result<FieldType, IdlError> {
        let (mut owner, mut owner_part) = (type_name.to_owned(), part);
        let mut found = None;
        for (depth, step) in path.split('.').enumerate() {
            let fields = self.fields(&owner, owner_part)?;
            let field =
                fields
                    .iter()
                    .find(|f| f.name == step)
                    .ok_or_else(|| IdlError::NoField {
                        type_name: owner.clone(),
                        part: owner_part.name(),
                        field: path.split('.').skip(depth).collect::<Vec<_>>().join("."),
                        available: fields
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?;
            if let (Base::Message(nested), false) = (&field.ty.base, field.ty.array) {
                owner = nested.clone();
                owner_part = Part::Message;
            }
            found = Some(field.ty.clone());
        }
        found.ok_or_else(|| IdlError::NoField {
            type_name: type_name.into(),
            part: part.name(),
            field: path.into(),
            available: String::new(),
        })
    }
}

fn split_name(type_name: &str) -> Result<(&str, &str, &str), IdlError> {
    let parts: Vec<&str> = type_name.split('/').collect();
    match parts[..] {
        [package, kind @ ("msg" | "srv" | "action"), name]
            if !package.is_empty() && !name.is_empty() =>
        {
            Ok((package, kind, name))
        }
        _ => Err(IdlError::BadName(type_name.into())),
    }
}

/// The fields of section `section` of a definition; nested types of the
/// same package (`Name`) or another (`pkg/Name`) become `pkg/msg/Name`.
fn parse_section(text: &str, section: usize, package: &str) -> Vec<Field> {
    text.split_inclusive('\n')
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .split(|l| l.trim() == "---")
        .nth(section)
        .unwrap_or_default()
        .iter()
        .filter_map(|line| parse_line(line, package))
        .collect()
}

fn parse_line(line: &str, package: &str) -> Option<Field> {
    let line = line.split('#').next().unwrap_or("").trim();
    let mut words = line.split_whitespace();
    let (ty, name) = (words.next()?, words.next()?);
    // `uint16 NONE=0` or `uint16 NONE = 0` is a constant, not a field.
    if name.contains('=') || words.next() == Some("=") {
        return None;
    }
    let (base, array) = match ty.find('[') {
        Some(at) => (&ty[..at], true),
        None => (ty, false),
    };
    let base = base.split("<=").next().unwrap_or(base);
    let base = match base {
        "bool" => Base::Bool,
        "float32" | "float64" => Base::Float,
        "string" | "wstring" => Base::Str,
        "byte" | "char" | "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32" | "int64"
        | "uint64" => Base::Int,
        nested => match nested.split_once('/') {
            Some((pkg, name)) => Base::Message(format!("{pkg}/msg/{name}")),
            None => Base::Message(format!("{package}/msg/{nested}")),
        },
    };
    Some(Field {
        name: name.to_owned(),
        ty: FieldType { base, array },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn install(dir: &Path, file: &str, text: &str) {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn idl() -> (tempfile_dir::Dir, Idl) {
        let dir = tempfile_dir::Dir::new();
        install(
            &dir.0,
            "share/nav2_msgs/action/NavigateToPose.action",
            "#goal definition\ngeometry_msgs/PoseStamped pose\nstring behavior_tree\n---\n# Error codes\nuint16 NONE=0\nuint16 TF_ERROR = 9002\n\nuint16 error_code\nstring error_msg\n---\nint16 number_of_recoveries\nfloat32 distance_remaining\n",
        );
        install(
            &dir.0,
            "share/geometry_msgs/msg/PoseStamped.msg",
            "std_msgs/Header header\nPose pose\n",
        );
        install(
            &dir.0,
            "share/geometry_msgs/msg/Pose.msg",
            "Point position\nQuaternion orientation\n",
        );
        install(
            &dir.0,
            "share/geometry_msgs/msg/Point.msg",
            "float64 x\nfloat64 y\nfloat64 z\n",
        );
        install(
            &dir.0,
            "share/std_srvs/srv/SetBool.srv",
            "bool data # on or off\n---\nbool success\nstring message\n",
        );
        install(
            &dir.0,
            "share/example_interfaces/action/Fibonacci.action",
            "int32 order\n---\nint32[] sequence\n---\nint32[<=10] sequence\n",
        );
        let idl = Idl::new([dir.0.clone()]);
        (dir, idl)
    }

    /// A temporary directory removed on drop (no extra crate for one test).
    mod tempfile_dir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let p =
                    std::env::temp_dir().join(format!("codeact-idl-{}-{n}", std::process::id()));
                let _ = std::fs::remove_dir_all(&p);
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn sections_fields_constants_and_arrays() {
        let (_dir, idl) = idl();
        let goal = idl
            .fields("nav2_msgs/action/NavigateToPose", Part::Goal)
            .unwrap();
        assert_eq!(
            goal.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["pose", "behavior_tree"]
        );
        assert_eq!(
            goal[0].ty.base,
            Base::Message("geometry_msgs/msg/PoseStamped".into())
        );
        let result = idl
            .fields("nav2_msgs/action/NavigateToPose", Part::Result)
            .unwrap();
        assert_eq!(
            result.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["error_code", "error_msg"],
            "constants are not fields"
        );
        let feedback = idl
            .field(
                "example_interfaces/action/Fibonacci",
                Part::Feedback,
                "sequence",
            )
            .unwrap();
        assert_eq!(
            feedback,
            FieldType {
                base: Base::Int,
                array: true
            }
        );
        assert_eq!(feedback.annotation(), "list[int]");
        let request = idl.fields("std_srvs/srv/SetBool", Part::Request).unwrap();
        assert_eq!(request[0].name, "data", "comments are cut");
    }

    #[test]
    fn nested_paths_resolve_and_missing_ones_say_what_there_is() {
        let (_dir, idl) = idl();
        let x = idl
            .field(
                "nav2_msgs/action/NavigateToPose",
                Part::Goal,
                "pose.pose.position.x",
            )
            .unwrap();
        assert_eq!(x.base, Base::Float);
        let e = idl
            .field(
                "nav2_msgs/action/NavigateToPose",
                Part::Goal,
                "pose.pose.position.w",
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "geometry_msgs/msg/Point has no message field \"w\"; its message fields are: x, y, z"
        );
        let e = idl
            .field("std_srvs/srv/SetBool", Part::Request, "value")
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("has no request field \"value\"; its request fields are: data"),
            "{e}"
        );
    }

    #[test]
    fn unknown_and_malformed_types_are_named() {
        let (_dir, idl) = idl();
        let e = idl.fields("nav2_msgs/action/Dock", Part::Goal).unwrap_err();
        assert!(matches!(e, IdlError::UnknownType { .. }));
        assert!(
            e.to_string().contains("share/nav2_msgs/action/Dock.action"),
            "{e}"
        );
        assert!(matches!(
            idl.fields("Fibonacci", Part::Goal),
            Err(IdlError::BadName(_))
        ));
    }

    #[test]
    fn parameter_types_must_fit_the_field() {
        let float = FieldType {
            base: Base::Float,
            array: false,
        };
        let ints = FieldType {
            base: Base::Int,
            array: true,
        };
        assert!(float.accepts(&ParamType::Float) && float.accepts(&ParamType::Int));
        assert!(
            !float.accepts(&ParamType::Str)
                && !float.accepts(&ParamType::List(Box::new(ParamType::Float)))
        );
        assert!(ints.accepts(&ParamType::List(Box::new(ParamType::Int))));
        assert!(!ints.accepts(&ParamType::Int));
        assert!(!FieldType {
            base: Base::Int,
            array: false
        }
        .accepts(&ParamType::Float));
    }
}
