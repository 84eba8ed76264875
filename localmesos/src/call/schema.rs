//! The protobuf side of a Call: for every message a Call can carry, the
//! fields whose presence, enum values or bytes the master's JSON-to-protobuf
//! conversion checks (required fields, closed enums, base64 `bytes`), and
//! which fields are sub-messages to descend into. Read by `shape`.

/// Messages reachable from a Call whose required fields are checked.
#[derive(Clone, Copy, Debug)]
pub enum Msg {
    Call,
    Id,
    Subscribe,
    FrameworkInfo,
    Labels,
    Label,
    Accept,
    InverseOffers,
    Operation,
    Launch,
    LaunchGroup,
    TaskGroup,
    TaskInfo,
    Resource,
    Scalar,
    Ranges,
    Range,
    ExecutorInfo,
    CommandInfo,
    Uri,
    Environment,
    Variable,
    ContainerInfo,
    Volume,
    DockerInfo,
    PortMapping,
    Parameter,
    MesosInfo,
    Image,
    ImageName,
    NetworkInfo,
    HealthCheck,
    PortCheck,
    KillPolicy,
    Duration,
    Discovery,
    Ports,
    Port,
    Decline,
    Kill,
    Shutdown,
    Acknowledge,
    AckOperation,
    Reconcile,
    ReconcileTask,
    ReconcileOperations,
    ReconcileOperation,
    Message,
    Request,
    RequestItem,
    UpdateFramework,
}

#[derive(Clone, Copy)]
pub enum Kind {
    /// A scalar or string value.
    Plain,
    /// A `bytes` field: base64 text.
    Bytes,
    Enum(&'static [&'static str]),
    Message(Msg),
}

#[derive(Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub required: bool,
    pub repeated: bool,
    pub kind: Kind,
}

const fn req(name: &'static str) -> Field {
    Field {
        name,
        required: true,
        repeated: false,
        kind: Kind::Plain,
    }
}
const fn req_bytes(name: &'static str) -> Field {
    Field {
        name,
        required: true,
        repeated: false,
        kind: Kind::Bytes,
    }
}
const fn opt_bytes(name: &'static str) -> Field {
    Field {
        name,
        required: false,
        repeated: false,
        kind: Kind::Bytes,
    }
}
const fn req_enum(name: &'static str, values: &'static [&'static str]) -> Field {
    Field {
        name,
        required: true,
        repeated: false,
        kind: Kind::Enum(values),
    }
}
const fn req_msg(name: &'static str, msg: Msg) -> Field {
    Field {
        name,
        required: true,
        repeated: false,
        kind: Kind::Message(msg),
    }
}
const fn opt_msg(name: &'static str, msg: Msg) -> Field {
    Field {
        name,
        required: false,
        repeated: false,
        kind: Kind::Message(msg),
    }
}
const fn rep_msg(name: &'static str, msg: Msg) -> Field {
    Field {
        name,
        required: false,
        repeated: true,
        kind: Kind::Message(msg),
    }
}

const VALUE_TYPES: &[&str] = &["SCALAR", "RANGES", "SET", "TEXT"];

pub fn fields(msg: Msg) -> Vec<Field> {
    use Msg as M;
    match msg {
        M::Call => vec![
            opt_msg("framework_id", M::Id),
            opt_msg("subscribe", M::Subscribe),
            opt_msg("accept", M::Accept),
            opt_msg("decline", M::Decline),
            opt_msg("accept_inverse_offers", M::InverseOffers),
            opt_msg("decline_inverse_offers", M::InverseOffers),
            opt_msg("kill", M::Kill),
            opt_msg("shutdown", M::Shutdown),
            opt_msg("acknowledge", M::Acknowledge),
            opt_msg("acknowledge_operation_status", M::AckOperation),
            opt_msg("reconcile", M::Reconcile),
            opt_msg("reconcile_operations", M::ReconcileOperations),
            opt_msg("message", M::Message),
            opt_msg("request", M::Request),
            opt_msg("update_framework", M::UpdateFramework),
        ],
        M::Id => vec![req("value")],
        M::Subscribe => vec![req_msg("framework_info", M::FrameworkInfo)],
        M::UpdateFramework => vec![req_msg("framework_info", M::FrameworkInfo)],
        M::FrameworkInfo => vec![
            req("user"),
            req("name"),
            opt_msg("id", M::Id),
            opt_msg("labels", M::Labels),
        ],
        M::Labels => vec![rep_msg("labels", M::Label)],
        M::Label => vec![req("key")],
        M::Accept => vec![rep_msg("offer_ids", M::Id), rep_msg("operations", M::Operation)],
        M::InverseOffers => vec![rep_msg("inverse_offer_ids", M::Id)],
        M::Operation => vec![
            opt_msg("launch", M::Launch),
            opt_msg("launch_group", M::LaunchGroup),
            opt_msg("id", M::Id),
        ],
        M::Launch => vec![rep_msg("task_infos", M::TaskInfo)],
        M::LaunchGroup => vec![
            req_msg("executor", M::ExecutorInfo),
            req_msg("task_group", M::TaskGroup),
        ],
        M::TaskGroup => vec![rep_msg("tasks", M::TaskInfo)],
        M::TaskInfo => vec![
            req("name"),
            req_msg("task_id", M::Id),
            req_msg("agent_id", M::Id),
            rep_msg("resources", M::Resource),
            opt_msg("executor", M::ExecutorInfo),
            opt_bytes("data"),
            opt_msg("command", M::CommandInfo),
            opt_msg("health_check", M::HealthCheck),
            opt_msg("container", M::ContainerInfo),
            opt_msg("labels", M::Labels),
            opt_msg("discovery", M::Discovery),
            opt_msg("kill_policy", M::KillPolicy),
            opt_msg("max_completion_time", M::Duration),
        ],
        M::Resource => vec![
            req("name"),
            req_enum("type", VALUE_TYPES),
            opt_msg("scalar", M::Scalar),
            opt_msg("ranges", M::Ranges),
        ],
        M::Scalar => vec![req("value")],
        M::Ranges => vec![rep_msg("range", M::Range)],
        M::Range => vec![req("begin"), req("end")],
        M::ExecutorInfo => vec![
            req_msg("executor_id", M::Id),
            opt_msg("framework_id", M::Id),
            opt_msg("command", M::CommandInfo),
            opt_msg("container", M::ContainerInfo),
            rep_msg("resources", M::Resource),
            opt_bytes("data"),
            opt_msg("discovery", M::Discovery),
            opt_msg("shutdown_grace_period", M::Duration),
            opt_msg("labels", M::Labels),
        ],
        M::CommandInfo => vec![rep_msg("uris", M::Uri), opt_msg("environment", M::Environment)],
        M::Uri => vec![req("value")],
        M::Environment => vec![rep_msg("variables", M::Variable)],
        M::Variable => vec![req("name")],
        M::ContainerInfo => vec![
            req_enum("type", &["DOCKER", "MESOS"]),
            rep_msg("volumes", M::Volume),
            opt_msg("docker", M::DockerInfo),
            opt_msg("mesos", M::MesosInfo),
            rep_msg("network_infos", M::NetworkInfo),
        ],
        M::Volume => vec![req("container_path"), req_enum("mode", &["RW", "RO"])],
        M::DockerInfo => vec![
            req("image"),
            rep_msg("port_mappings", M::PortMapping),
            rep_msg("parameters", M::Parameter),
        ],
        M::PortMapping => vec![req("host_port"), req("container_port")],
        M::Parameter => vec![req("key"), req("value")],
        M::MesosInfo => vec![opt_msg("image", M::Image)],
        M::Image => vec![
            req_enum("type", &["APPC", "DOCKER"]),
            opt_msg("appc", M::ImageName),
            opt_msg("docker", M::ImageName),
        ],
        M::ImageName => vec![req("name")],
        M::NetworkInfo => vec![opt_msg("labels", M::Labels), rep_msg("port_mappings", M::PortMapping)],
        M::HealthCheck => vec![
            opt_msg("http", M::PortCheck),
            opt_msg("command", M::CommandInfo),
            opt_msg("tcp", M::PortCheck),
        ],
        M::PortCheck => vec![req("port")],
        M::KillPolicy => vec![opt_msg("grace_period", M::Duration)],
        M::Duration => vec![req("nanoseconds")],
        M::Discovery => vec![
            req_enum("visibility", &["FRAMEWORK", "CLUSTER", "EXTERNAL"]),
            opt_msg("ports", M::Ports),
            opt_msg("labels", M::Labels),
        ],
        M::Ports => vec![rep_msg("ports", M::Port)],
        M::Port => vec![req("number"), opt_msg("labels", M::Labels)],
        M::Decline => vec![rep_msg("offer_ids", M::Id)],
        M::Kill => vec![
            req_msg("task_id", M::Id),
            opt_msg("agent_id", M::Id),
            opt_msg("kill_policy", M::KillPolicy),
        ],
        M::Shutdown => vec![req_msg("executor_id", M::Id), req_msg("agent_id", M::Id)],
        M::Acknowledge => vec![req_msg("agent_id", M::Id), req_msg("task_id", M::Id), req_bytes("uuid")],
        M::AckOperation => vec![
            opt_msg("agent_id", M::Id),
            opt_msg("resource_provider_id", M::Id),
            req_bytes("uuid"),
            req_msg("operation_id", M::Id),
        ],
        M::Reconcile => vec![rep_msg("tasks", M::ReconcileTask)],
        M::ReconcileTask => vec![req_msg("task_id", M::Id), opt_msg("agent_id", M::Id)],
        M::ReconcileOperations => vec![rep_msg("operations", M::ReconcileOperation)],
        M::ReconcileOperation => vec![
            req_msg("operation_id", M::Id),
            opt_msg("agent_id", M::Id),
            opt_msg("resource_provider_id", M::Id),
        ],
        M::Message => vec![
            req_msg("agent_id", M::Id),
            req_msg("executor_id", M::Id),
            req_bytes("data"),
        ],
        M::Request => vec![rep_msg("requests", M::RequestItem)],
        M::RequestItem => vec![opt_msg("agent_id", M::Id), rep_msg("resources", M::Resource)],
    }
}
